"""The quality page's shaping (质量考核, issue 12 item 7): the months a user may pick, the
facts narrowed to the user's regions, the figures as table rows (rates as percentages),
the chart's rows, the subcontractor's score breakdown and fee band, and the rules as the
settings file gives them. Pure: no Streamlit, no I/O, no clock reads; the counting itself
is admin/quality.py's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Final

from admin import quality as q
from admin.quality_facts import Facts
from admin.service_settings import QualityRules
from dashboards.labels import bi

Table = list[dict[str, Any]]

#: months offered besides the current one (the picker's depth)
MONTHS_BACK: Final = 12

GROUP_LABELS: Final = {q.BY_REGION: bi("按服务区域", "by region"),
                       q.BY_ENGINEER: bi("按工程师", "by engineer")}
UNASSIGNED: Final = bi("未指派", "unassigned")
UNREGISTERED: Final = bi("未登记区域", "no region")
TOTAL: Final = bi("合计", "total")
NONE_SHOWN: Final = "—"

#: the table's columns in order: the group, then the figures the issue names
FIGURE_COLUMNS: Final = ("orders_opened", "on_time_first_contact", "on_time_response",
                         "on_time_arrival", "return_visit_rate", "satisfaction",
                         "complaints", "sla_breaches", "inspections_done")
#: the rates among them (0..1 in admin.quality, percentages 0-100 here)
RATE_COLUMNS: Final = ("on_time_first_contact", "on_time_response", "on_time_arrival",
                       "return_visit_rate", "inspections_done")
#: rate -> (on time count, counted count) in QualityRow
RATE_COUNTS: Final = {
    "on_time_first_contact": ("first_contact_on_time", "first_contact_counted"),
    "on_time_response": ("response_on_time", "response_counted"),
    "on_time_arrival": ("arrival_on_time", "arrival_counted"),
    "return_visit_rate": ("visits_on_time", "visits_due"),
    "inspections_done": ("inspections_on_time", "inspections_due"),
}
#: the rates the chart draws: the SLA clocks
CHART_RATES: Final = ("on_time_first_contact", "on_time_response", "on_time_arrival")
#: their colours: one hue family, so no rate reads as an alarm
CHART_COLORS: Final = ("#4c78a8", "#72b7b2", "#54a24b")


def headers(by: str) -> dict[str, str]:
    group = bi("服务区域", "region") if by == q.BY_REGION else bi("工程师", "engineer")
    return {"group": group, **{k: q.FIGURE_LABELS[k] for k in FIGURE_COLUMNS}}


# --- the month picker -------------------------------------------------------------------


def month_of(t: datetime | date) -> str:
    return f"{t.year:04d}-{t.month:02d}"


def _back(month: str, n: int) -> str:
    y, m = int(month[:4]), int(month[5:7])
    k = y * 12 + (m - 1) - n
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


def month_options(now: datetime, back: int = MONTHS_BACK) -> list[str]:
    """The current month (so far) and the ``back`` months before it, newest first."""
    current = month_of(now)
    return [_back(current, n) for n in range(back + 1)]


def default_month(now: datetime) -> str:
    """The last full month: the one a month's figures are judged on."""
    return _back(month_of(now), 1)


def month_label(month: str, now: datetime) -> str:
    current = month_of(now)
    if month == current:
        return f"{month} " + bi("本月至今", "this month so far")
    if month == _back(current, 1):
        return f"{month} " + bi("上月", "last full month")
    return month


def in_progress(month: str, now: datetime) -> bool:
    return month == month_of(now)


# --- the user's scope -------------------------------------------------------------------


def scoped(facts: Facts, sees: Callable[[str], bool]) -> Facts:
    """Only the facts of the regions ``sees`` allows (``User.sees_region``): a field
    engineer's figures are counted from their region's records alone, so no other
    region's number reaches the page."""
    return Facts(orders=[o for o in facts.orders if sees(o.region)],
                 visits=[v for v in facts.visits if sees(v.region)],
                 complaints=[c for c in facts.complaints if sees(c.region)],
                 inspections=[i for i in facts.inspections if sees(i.region)])


def month_rows(facts: Facts, month: str, by: str, now: datetime,
               groups: Iterable[str] = ()) -> list[q.QualityRow]:
    """admin.quality.figures over ``facts``; ``now`` leaves out what is not due yet (it
    matters only for the month in progress: in a past month everything is due)."""
    return q.figures(facts.orders, facts.visits, facts.complaints, facts.inspections, month,
                     by, now=now, groups=groups)


# --- the table --------------------------------------------------------------------------


def percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


def group_label(row: q.QualityRow) -> str:
    if row.by == "total":
        return TOTAL
    if row.group:
        return row.group
    return UNASSIGNED if row.by == q.BY_ENGINEER else UNREGISTERED


def with_total(rows: Sequence[q.QualityRow], month: str) -> list[q.QualityRow]:
    """The rows and, for more than one, their total (counts added, rates recomputed)."""
    if len(rows) < 2:
        return list(rows)
    return [*rows, q.combine(rows, TOTAL, month=month)]


def figure_rows(rows: Sequence[q.QualityRow]) -> Table:
    """One dict per row, numbers as numbers: rates as percentages with one decimal (None
    when nothing was counted), satisfaction as the mean to 2 decimals. The CSV's rows."""
    out: Table = []
    for r in rows:
        d: dict[str, Any] = {"group": group_label(r)}
        for k in FIGURE_COLUMNS:
            v = getattr(r, k)
            if k in RATE_COLUMNS:
                d[k] = percent(v)
            elif k == "satisfaction":
                d[k] = None if v is None else round(v, 2)
            else:
                d[k] = v
        out.append(d)
    return out


def csv_rows(rows: Sequence[q.QualityRow], month: str, by: str) -> tuple[Table, dict[str, str]]:
    """The export: the month, the group, each rate with its counts beside it, and the
    headers (rates are the ``RATE_COLUMNS``, percentages)."""
    hdr = {"month": bi("月份", "month"), **headers(by)}
    table: Table = []
    for r, shown in zip(rows, figure_rows(rows), strict=True):
        d: dict[str, Any] = {"month": month, "group": shown["group"]}
        for k in FIGURE_COLUMNS:
            d[k] = shown[k]
            if k in RATE_COUNTS:
                good, counted = RATE_COUNTS[k]
                d[good], d[counted] = getattr(r, good), getattr(r, counted)
            elif k == "satisfaction":
                d["satisfaction_scores"] = r.satisfaction_scores
        table.append(d)
    for k, (good, counted) in RATE_COUNTS.items():
        zh = q.FIGURE_LABELS[k].split()[0]
        hdr[good] = bi(f"{zh}·按时", "on time")
        hdr[counted] = bi(f"{zh}·应计", "counted")
    hdr["satisfaction_scores"] = bi("满意度·评分数", "scores")
    return table, hdr


def shown_rows(rows: Sequence[q.QualityRow]) -> Table:
    """The page's table: each rate as "75.0% (3/4)" (on time / counted), "—" when nothing
    was counted; satisfaction as "4.50 (3)" (mean, scores)."""
    out: Table = []
    for r, d in zip(rows, figure_rows(rows), strict=True):
        row: dict[str, Any] = {"group": d["group"]}
        for k in FIGURE_COLUMNS:
            v = d[k]
            if k in RATE_COUNTS:
                good, counted = RATE_COUNTS[k]
                row[k] = (NONE_SHOWN if v is None
                          else f"{v:.1f}% ({getattr(r, good)}/{getattr(r, counted)})")
            elif k == "satisfaction":
                row[k] = NONE_SHOWN if v is None else f"{v:.2f} ({r.satisfaction_scores})"
            else:
                row[k] = v
        out.append(row)
    return out


def chart_rows(rows: Sequence[q.QualityRow]) -> Table:
    """The chart's long rows: one per group and SLA rate with something counted."""
    out: Table = []
    for r in rows:
        for k in CHART_RATES:
            v = percent(getattr(r, k))
            if v is None:
                continue
            good, counted = RATE_COUNTS[k]
            out.append({"group": group_label(r), "figure": q.FIGURE_LABELS[k], "rate": v,
                        "on_time": getattr(r, good), "counted": getattr(r, counted)})
    return out


# --- the subcontractor's score and fee --------------------------------------------------

FULL: Final = "full"
PRO_RATA: Final = "pro_rata"
NO_FEE: Final = "none"


def fee_band(score: float, rules: QualityRules) -> str:
    if score >= rules.full_fee_at:
        return FULL
    if score >= rules.no_fee_below:
        return PRO_RATA
    return NO_FEE


def band_label(band: str, rules: QualityRules) -> str:
    if band == FULL:
        return bi(f"全额（≥ {rules.full_fee_at:g} 分）",
                  f"full fee (score ≥ {rules.full_fee_at:g})")
    if band == PRO_RATA:
        return bi(f"按比例 月费 × 得分/100（{rules.no_fee_below:g}–{rules.full_fee_at:g} 分）",
                  f"pro rata: fee × score/100 (score {rules.no_fee_below:g} to "
                  f"{rules.full_fee_at:g})")
    return bi(f"不支付（< {rules.no_fee_below:g} 分）", f"no fee (score below "
              f"{rules.no_fee_below:g})")


def value_text(figure: str, value: float | None) -> str:
    if value is None:
        return NONE_SHOWN + " " + bi("无应计", "nothing counted")
    if figure == "satisfaction":
        return f"{value:.2f}"
    return f"{value * 100:.1f}%"


def target_text(figure: str, target: float) -> str:
    return f"{target:.2f}" if figure == "satisfaction" else f"{target * 100:.1f}%"


def points(x: float) -> str:
    return f"{x:.2f}"


def money(x: float) -> str:
    return f"¥{x:,.2f}"


SCORE_HEADERS: Final = {"item": bi("项目", "item"), "value": bi("实际", "value"),
                        "target": bi("目标", "target"), "points": bi("满分", "points"),
                        "earned": bi("得分", "earned")}


def score_rows(s: q.Score, rules: QualityRules) -> Table:
    """The breakdown: each figure's value, target, points and what it earned, then the
    deductions (count x points each), then the score (raw, and as clamped)."""
    out: Table = [{"item": p.label, "value": value_text(p.figure, p.value),
                   "target": target_text(p.figure, p.target), "points": points(p.points),
                   "earned": points(p.earned)} for p in s.parts]
    out.append({"item": bi("指标得分小计", "figures' points"), "value": "", "target": "",
                "points": points(sum(p.points for p in s.parts)), "earned": points(s.earned)})
    out.append({"item": bi("投诉扣分", "complaints deduction"),
                "value": f"{s.complaints} × {rules.per_complaint:g}", "target": "",
                "points": "", "earned": points(-s.complaint_deduction)})
    out.append({"item": bi("超时扣分", "SLA breaches deduction"),
                "value": f"{s.sla_breaches} × {rules.per_sla_breach:g}", "target": "",
                "points": "", "earned": points(-s.breach_deduction)})
    clamped = "" if 0.0 <= s.raw <= 100.0 else bi(f"（原始 {s.raw:.2f}，限 0–100）",
                                             f"(raw {s.raw:.2f}, kept to 0-100)")
    out.append({"item": bi("月度得分", "monthly score"), "value": clamped, "target": "",
                "points": "100", "earned": points(s.score)})
    return out


@dataclass(frozen=True)
class SubcontractorView:
    name: str
    regions: tuple[str, ...]
    score: float
    band: str
    band_label: str
    monthly_fee: float
    fee: float
    breakdown: Table


def subcontractor_views(scores: Iterable[q.SubcontractorScore], rules: QualityRules
                        ) -> list[SubcontractorView]:
    out = []
    for s in scores:
        band = fee_band(s.score.score, rules)
        out.append(SubcontractorView(s.name, s.regions, s.score.score, band,
                                     band_label(band, rules), s.monthly_fee, s.fee,
                                     score_rows(s.score, rules)))
    return out


def visible_subcontractors(rules: QualityRules, sees: Callable[[str], bool]
                           ) -> tuple[list[str], list[str]]:
    """The subcontractors whose every region the user sees (their score is shown), and
    the others (not shown: a score counted from part of their regions would be wrong,
    and one counted from all would show other regions' figures)."""
    shown: list[str] = []
    hidden: list[str] = []
    for sub in rules.subcontractors:
        (shown if all(sees(r) for r in sub.regions) else hidden).append(sub.name)
    return shown, hidden


def only(rules: QualityRules, names: Iterable[str]) -> QualityRules:
    """``rules`` with only the named subcontractors."""
    keep = set(names)
    return replace(rules, subcontractors=tuple(s for s in rules.subcontractors
                                               if s.name in keep))


SUBCONTRACTOR_HEADERS: Final = {
    "name": bi("分包商", "subcontractor"), "regions": bi("服务区域", "regions"),
    "score": bi("月度得分", "score"), "band": bi("费用档", "fee band"),
    "monthly_fee": bi("月费", "monthly fee"), "fee": bi("应付费用", "fee earned")}


def subcontractor_table(views: Sequence[SubcontractorView]) -> Table:
    return [{"name": v.name, "regions": "、".join(v.regions), "score": points(v.score),
             "band": v.band_label, "monthly_fee": money(v.monthly_fee), "fee": money(v.fee)}
            for v in views]


# --- the rules, as the settings file gives them -----------------------------------------

RULE_HEADERS: Final = {"rule": bi("规则", "rule"), "value": bi("设定", "setting")}


def rules_rows(rules: QualityRules, where: str = "") -> Table:
    """The score's rules in words, from the settings file (``[quality]``)."""
    out: Table = []
    for figure, pts in rules.points.items():
        key = "satisfaction_target" if figure == "satisfaction" else figure
        target = rules.targets.get(key)
        shown = (bi("满分制", "full scale") if target is None
                 else target_text(figure, target))
        out.append({"rule": q.FIGURE_LABELS.get(figure, figure),
                    "value": bi(f"{pts:g} 分，目标 {shown}", f"{pts:g} points at target {shown}")})
    out.append({"rule": bi("每件投诉扣分", "per complaint"), "value": f"−{rules.per_complaint:g}"})
    out.append({"rule": bi("每次超时扣分", "per SLA breach"),
                "value": f"−{rules.per_sla_breach:g}"})
    out.append({"rule": bi("全额费用", "full fee"),
                "value": bi(f"≥ {rules.full_fee_at:g} 分", f"score ≥ {rules.full_fee_at:g}")})
    out.append({"rule": bi("按比例", "pro rata"),
                "value": bi(f"{rules.no_fee_below:g}–{rules.full_fee_at:g} 分：月费 × 得分/100",
                            f"{rules.no_fee_below:g} to {rules.full_fee_at:g}: fee × score/100")})
    out.append({"rule": bi("不支付", "no fee"),
                "value": bi(f"< {rules.no_fee_below:g} 分", f"score below {rules.no_fee_below:g}")})
    for sub in rules.subcontractors:
        out.append({"rule": bi("分包商", "subcontractor") + f" {sub.name}",
                    "value": "、".join(sub.regions) + f" · {bi('月费', 'monthly fee')} "
                    + money(sub.monthly_fee)})
    if where:
        out.append({"rule": bi("设置文件", "settings file"), "value": where})
    return out


def regions_seen(regions: Iterable[str], sees: Callable[[str], bool]) -> tuple[str, ...]:
    """The service regions the user sees, in the registry's order (rows always shown)."""
    return tuple(r for r in regions if sees(r))


def by_group(rows: Iterable[q.QualityRow]) -> Mapping[str, q.QualityRow]:
    return {r.group: r for r in rows}
