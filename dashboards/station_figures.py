"""The station page's figures from its named queries' rows: plain functions and Altair
charts, no Streamlit and no I/O beyond the codec's own code tables, so unit tests and the
page share them.

Times are shown as the CST wall-clock times they are: chart data carry ISO text without
a zone, which the browser draws as written, whatever its own zone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Final

import altair as alt
import hj212

from dashboards.labels import bi, region_label, severity_label
from pipeline.timebase import cn_period, to_local

Table = list[dict[str, Any]]

#: the data types the chart offers, with the default range of each
CN_LABELS: Final = {
    2011: bi("实时数据", "real-time") + " (2011)",
    2051: bi("分钟数据", "minute") + " (2051)",
    2061: bi("小时数据", "hourly") + " (2061)",
    2031: bi("日数据", "daily") + " (2031)",
}
DEFAULT_RANGE: Final = {2011: timedelta(hours=24), 2051: timedelta(hours=24),
                        2061: timedelta(days=7), 2031: timedelta(days=30)}
#: how far back the pollutant picker looks for codes with data
CODES_LOOKBACK: Final = timedelta(days=30)
#: the most points one chart asks for: longer ranges are averaged in SQL into buckets
MAX_POINTS: Final = 1500
#: bucket widths (seconds) a downsampled series may use: whole minutes, hours, days
STEPS: Final = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
FRAMES_LIMIT: Final = 200
FRAMES_RANGE: Final = timedelta(hours=1)

STATUS_LABELS: Final = {"accepted": bi("接受", "accepted"), "rejected": bi("拒绝", "rejected")}
WINDOW_STATES: Final = {
    "open": bi("缺失待补", "missing"),
    "requested": bi("已请求补传", "back-fill requested"),
    "filled": bi("已补齐", "filled"),
    "partly_filled": bi("部分补齐", "partly filled"),
    "given_up": bi("放弃补传", "given up"),
}
ALARM_STATES: Final = {"open": bi("未关闭", "open"), "cleared": bi("已关闭", "cleared")}


# --- code tables ----------------------------------------------------------------------


@cache
def _table(name: str) -> dict[str, dict[str, str]]:
    return {row["code"]: row for row in hj212.code_table(name)}


def pollutant_name(code: str) -> str:
    """``w01018 化学需氧量 COD``: the code with its names from the codec's table."""
    row = _table("pollutant").get(code)
    if row is None:
        return code or bi("整站", "station-wide")
    return f"{code} {row['name_zh']} {row['name_en']}"


def pollutant_unit(code: str) -> str:
    row = _table("pollutant").get(code)
    return row["unit"] if row else ""


def flag_meaning(flag: str) -> str:
    """A data flag's meaning from the codec's table, Chinese first."""
    row = _table("flag").get(flag)
    return bi(row["name_zh"], row["name_en"]) if row else bi("未知标记", "unknown flag")


def flag_label(flag: str) -> str:
    """``D 仪器故障 ...``: how a flag is named in the chart's legend."""
    return f"{flag} {flag_meaning(flag)}"


def flag_legend() -> Table:
    """Every data flag of the standard with its meaning (N normal first, as listed)."""
    return [{"flag": code, "meaning": flag_meaning(code)} for code in _table("flag")]


def system_name(st: str) -> str:
    row = _table("st").get(st)
    return f"{st} {row['name_zh']}" if row else st


# --- ranges and steps -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Range:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def default_range(cn: int, now: datetime) -> Range:
    """The range shown first for data type ``cn``: up to the next whole minute after
    ``now``, so the newest record is inside."""
    end = to_local(now).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return Range(end - DEFAULT_RANGE[cn], end)


def cadence_s(cn: int, rtd_interval: int, min_interval: int) -> int:
    """Seconds between two records of ``cn`` at this station."""
    return cn_period(cn, rtd_interval=max(rtd_interval, 1),
                     min_interval=max(min_interval, 1)) or 60


def series_step(span_s: float, cadence: int, max_points: int = MAX_POINTS) -> int:
    """Bucket width for the series query: 1 (each record as it is) while the range holds
    at most ``max_points`` records, else the smallest of STEPS that brings the buckets
    down to ``max_points`` (the last of STEPS if none does)."""
    if span_s / max(cadence, 1) <= max_points:
        return 1
    need = span_s / max_points
    return next((s for s in STEPS if s >= need), STEPS[-1])


# --- registry and limits --------------------------------------------------------------


def _num(value: float) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:g}"


def info_table(row: Mapping[str, Any]) -> Table:
    """The registry row as (field, value) lines, both languages in the field names."""
    crc = row.get("crc_variants") or ""
    lines = [
        (bi("企业", "enterprise"), row["enterprise"]),
        (bi("排口", "outlet"), row["outlet"]),
        ("MN", row["mn"]),
        (bi("系统编码", "system (ST)"), system_name(row["st"])),
        (bi("协议版本", "edition"), f"HJ 212-{row['edition']}"),
        (bi("省份", "province"), row["province"]),
        (bi("服务区域", "region"), region_label(row["region"])),
        (bi("实时数据间隔", "real-time interval"), f"{row['rtd_interval']} s"),
        (bi("分钟数据间隔", "minute interval"), f"{row['min_interval']} min"),
        (bi("启用", "active"), bi("是", "yes") if row["active"] else bi("否", "no")),
        (bi("CRC 变体", "CRC variants"), crc or bi("仅标准", "standard only")),
    ]
    return [{"field": k, "value": str(v)} for k, v in lines]


def limits_table(rows: Iterable[Mapping[str, Any]]) -> Table:
    """The limits rows with pollutant names; NaN bounds (not applicable) as a dash."""
    return [{"code": pollutant_name(r["code"]), "limit_low": _num(r["limit_low"]),
             "limit_high": _num(r["limit_high"]), "basis": r["basis"],
             "range": f"{_num(r['range_low'])} – {_num(r['range_high'])}",
             "unit": r["unit"], "active": bi("是", "yes") if r["active"] else bi("否", "no")}
            for r in rows]


def limit_of(rows: Iterable[Mapping[str, Any]], code: str) -> Mapping[str, Any] | None:
    """The active limits row of ``code``, if any."""
    return next((r for r in rows if r["code"] == code and r["active"]), None)


def code_options(codes: Iterable[Mapping[str, Any]], limits: Iterable[Mapping[str, Any]],
                 cn: int) -> list[str]:
    """Pollutant codes to offer for ``cn``: those with records of that type first (in
    code order), then those with a limits row but no record in the lookback."""
    with_data = sorted({r["code"] for r in codes if int(r["cn"]) == cn and r["code"]})
    limited = sorted({r["code"] for r in limits} - set(with_data))
    return with_data + limited


# --- the series and what is drawn over it ---------------------------------------------


def _iso(when: datetime) -> str:
    return to_local(when).replace(tzinfo=None).isoformat()


def _finite(value: Any) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None


def series_rows(rows: Iterable[Mapping[str, Any]]) -> Table:
    """``station_series`` rows as chart data: ISO times, values (None where a bucket has
    no finite value, so the line breaks there), the flag and its label."""
    out = []
    for r in rows:
        flag = r["flag"] if int(r["flagged"]) else ""
        out.append({"time": _iso(r["bucket"]), "value": _finite(r["value"]),
                    "value_min": _finite(r["value_min"]), "value_max": _finite(r["value_max"]),
                    "zs_value": _finite(r["zs_value"]), "records": int(r["records"]),
                    "flagged": int(r["flagged"]),
                    "flag": flag_label(flag) if flag else bi("N 正常", "normal")})
    return out


def flag_spans(rows: Sequence[Mapping[str, Any]], width_s: int) -> Table:
    """Runs of buckets flagged other than N, each from its first bucket to the end of
    its last (``width_s`` after its start); next buckets with the same flag, no more
    than one width apart, join one run."""
    spans: Table = []
    last_end: datetime | None = None
    for r in rows:
        if not int(r["flagged"]):
            last_end = None
            continue
        start = to_local(r["bucket"]).replace(tzinfo=None)
        end = start + timedelta(seconds=width_s)
        cur = spans[-1] if spans else None
        if (cur is not None and last_end is not None and cur["flag_code"] == r["flag"]
                and start <= last_end + timedelta(seconds=width_s)):
            cur["end"] = end.isoformat()
            cur["records"] += int(r["flagged"])
        else:
            spans.append({"start": start.isoformat(), "end": end.isoformat(),
                          "flag_code": r["flag"], "flag": flag_label(r["flag"]),
                          "records": int(r["flagged"])})
        last_end = end
    return spans


def _clip(start: datetime, end: datetime, rng: Range) -> tuple[datetime, datetime] | None:
    s, e = max(start, rng.start), min(end, rng.end)
    return (s, e) if s <= e else None


def alarm_bands(rows: Iterable[Mapping[str, Any]], rng: Range, min_s: int) -> Table:
    """Alarm episodes as bands in the range: opened_at to cleared_at (or last_seen);
    one still open lasts to the range's end. A band is at least ``min_s`` wide so an
    episode of one record shows."""
    out = []
    for r in rows:
        opened = to_local(r["opened_at"]).replace(tzinfo=None)
        if r["state"] == "open":
            end = rng.end
        else:
            end = to_local(r["cleared_at"] or r["last_seen"]).replace(tzinfo=None)
        end = max(end, opened + timedelta(seconds=min_s))
        clipped = _clip(opened, end, rng)
        if clipped is None:
            continue
        out.append({"start": clipped[0].isoformat(), "end": clipped[1].isoformat(),
                    "lane": bi("告警", "alarm"),
                    "kind": f"{rule_text(r['rule'])} · {ALARM_STATES.get(r['state'], r['state'])}",
                    "detail": f"{severity_label(r['severity'])} · {pollutant_name(r['code'])}"
                              f" · {r['message']}",
                    "opened": opened.isoformat(sep=" ")})
    return out


def rule_text(rule: str) -> str:
    from dashboards.labels import rule_label  # one rule-label map for every page

    return rule_label(rule)


def window_bands(rows: Iterable[Mapping[str, Any]], rng: Range, cadence: int) -> Table:
    """Gap / back-fill windows as bands: from the first missing record's data time to
    one cadence after the last's, labelled with their state."""
    out = []
    for r in rows:
        start = to_local(r["window_start"]).replace(tzinfo=None)
        end = to_local(r["window_end"]).replace(tzinfo=None) + timedelta(seconds=cadence)
        clipped = _clip(start, end, rng)
        if clipped is None:
            continue
        state = WINDOW_STATES.get(r["state"], r["state"])
        out.append({"start": clipped[0].isoformat(), "end": clipped[1].isoformat(),
                    "lane": bi("缺失", "gap"), "kind": state,
                    "detail": f"{bi('应收', 'expected')} {r['expected']}, "
                              f"{bi('补收', 'received')} {r['received']}, "
                              f"{bi('请求', 'requests')} {r['requests']}",
                    "opened": start.isoformat(sep=" ")})
    return out


@dataclass(frozen=True, slots=True)
class Rule:
    """A horizontal line over the series: a limit or an end of the instrument range."""

    label: str
    value: float
    kind: str  # "limit" or "range"


def rules_for(limit: Mapping[str, Any] | None) -> list[Rule]:
    if limit is None:
        return []
    out = []
    for key, label, kind in (("limit_high", bi("排放上限", "limit high"), "limit"),
                             ("limit_low", bi("排放下限", "limit low"), "limit"),
                             ("range_high", bi("量程上限", "range high"), "range"),
                             ("range_low", bi("量程下限", "range low"), "range")):
        value = _finite(limit.get(key))
        if value is not None:
            out.append(Rule(f"{label} {value:g}", value, kind))
    return out


def y_domain(series: Sequence[Mapping[str, Any]], rules: Sequence[Rule]
             ) -> tuple[float, float] | None:
    """The value axis: the data and the limits; an instrument-range end only when it is
    not far off the data (else the series would be a flat line at the bottom)."""
    values = [v for r in series for v in (r["value_min"], r["value_max"], r["value"],
                                          r["zs_value"]) if v is not None]
    limits = [r.value for r in rules if r.kind == "limit"]
    if not values and not limits:
        return None
    lo, hi = min(values + limits), max(values + limits)
    span = max(hi - lo, abs(hi) * 0.1, 1e-9)
    for r in rules:
        if r.kind == "range" and lo - 2 * span <= r.value <= hi + 2 * span:
            lo, hi = min(lo, r.value), max(hi, r.value)
    pad = (hi - lo) * 0.05 or 1.0
    return lo - pad, hi + pad


def rules_off_view(rules: Sequence[Rule], domain: tuple[float, float] | None) -> list[Rule]:
    if domain is None:
        return list(rules)
    return [r for r in rules if not domain[0] <= r.value <= domain[1]]


# --- the chart ------------------------------------------------------------------------

TIME_TITLE: Final = bi("时间", "time") + " (CST)"
LANE_COLORS: Final = {"alarm": "#d62728", "gap": "#7f7f7f"}
FLAG_COLORS: Final = ("#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
                      "#aec7e8")


def series_chart(series: Table, flags: Table, events: Table, rules: Sequence[Rule],
                 rng: Range, value_title: str) -> alt.VConcatChart:
    """The value over time (mean line with the min-max band of a bucket, converted
    values dashed), limits and range as rules, non-N flags shaded; below it, on the
    same time axis, alarm episodes and gap windows as bands. Drag or scroll zooms the
    time axis of both; hover shows values."""
    zoom = alt.selection_interval(bind="scales", encodings=["x"])
    x_scale = alt.Scale(domain=[rng.start.isoformat(), rng.end.isoformat()])
    # the lanes below carry the axis title; both show the same month-day hour:minute
    x = alt.X("time:T", title=None, scale=x_scale, axis=alt.Axis(format="%m-%d %H:%M"))
    domain = y_domain(series, rules)
    y_scale = alt.Scale(domain=list(domain), zero=False) if domain else alt.Scale(zero=False)
    data = alt.Data(values=series)  # type: ignore[no-untyped-call]
    tooltip = [alt.Tooltip("time:T", title=bi("时间", "time"), format="%Y-%m-%d %H:%M:%S"),
               alt.Tooltip("value:Q", title=bi("数值", "value"), format=".4g"),
               alt.Tooltip("value_min:Q", title=bi("最小", "min"), format=".4g"),
               alt.Tooltip("value_max:Q", title=bi("最大", "max"), format=".4g"),
               alt.Tooltip("zs_value:Q", title=bi("折算", "converted"), format=".4g"),
               alt.Tooltip("records:Q", title=bi("记录数", "records")),
               alt.Tooltip("flag:N", title=bi("数据标记", "flag"))]
    layers: list[Any] = []
    if flags:
        names = sorted({f["flag"] for f in flags})
        layers.append(
            alt.Chart(alt.Data(values=flags))  # type: ignore[no-untyped-call]
            .mark_rect(opacity=0.22)
            .encode(x=alt.X("start:T", title=TIME_TITLE, scale=x_scale), x2="end:T",
                    color=alt.Color("flag:N", title=bi("数据标记", "data flag"),
                                    scale=alt.Scale(domain=names,
                                                    range=list(FLAG_COLORS[:len(names)])),
                                    legend=alt.Legend(orient="bottom", labelLimit=420)),
                    tooltip=[alt.Tooltip("flag:N", title=bi("数据标记", "flag")),
                             alt.Tooltip("start:T", title=bi("开始", "from"),
                                         format="%m-%d %H:%M"),
                             alt.Tooltip("end:T", title=bi("结束", "to"),
                                         format="%m-%d %H:%M"),
                             alt.Tooltip("records:Q", title=bi("记录数", "records"))]))
    base = alt.Chart(data).encode(x=x)
    if any(r["value_min"] != r["value_max"] for r in series):
        layers.append(base.mark_area(opacity=0.18, color="#1f77b4").encode(
            y=alt.Y("value_min:Q", scale=y_scale), y2="value_max:Q"))
    layers.append(base.mark_line(color="#1f77b4", clip=True).encode(
        y=alt.Y("value:Q", title=value_title, scale=y_scale)))
    if any(r["zs_value"] is not None for r in series):
        layers.append(base.mark_line(color="#2ca02c", strokeDash=[4, 3], clip=True)
                      .encode(y=alt.Y("zs_value:Q", scale=y_scale)))
    layers.append(base.mark_point(size=14, filled=True, clip=True).encode(
        y=alt.Y("value:Q", scale=y_scale),
        color=alt.condition("datum.flagged > 0", alt.value("#d62728"),
                            alt.value("#1f77b4")),
        tooltip=tooltip))
    shown_rules = [{"label": r.label, "value": r.value, "kind": r.kind} for r in rules
                   if domain is None or domain[0] <= r.value <= domain[1]]
    if shown_rules:
        rule_data = alt.Data(values=shown_rules)  # type: ignore[no-untyped-call]
        rule_base = alt.Chart(rule_data).encode(y=alt.Y("value:Q", scale=y_scale))
        layers.append(rule_base.mark_rule(strokeDash=[6, 4], strokeWidth=1.5).encode(
            color=alt.Color("kind:N", legend=None,
                            scale=alt.Scale(domain=["limit", "range"],
                                            range=["#d62728", "#555555"])),
            tooltip=[alt.Tooltip("label:N", title=bi("基准线", "rule"))]))
        layers.append(rule_base.mark_text(align="left", dx=4, dy=-6, fontSize=11,
                                          color="#444").encode(
            x=alt.value(0), text="label:N"))
    top = alt.layer(*layers).add_params(zoom).properties(height=320)
    lanes = alt.Chart(alt.Data(values=events)  # type: ignore[no-untyped-call]
    ).mark_bar(opacity=0.7, cornerRadius=2).encode(
        x=alt.X("start:T", title=TIME_TITLE, scale=x_scale,
                axis=alt.Axis(format="%m-%d %H:%M")),
        x2="end:T",
        y=alt.Y("lane:N", title=None, sort=[bi("告警", "alarm"), bi("缺失", "gap")],
                scale=alt.Scale(domain=[bi("告警", "alarm"), bi("缺失", "gap")])),
        color=alt.Color("kind:N", title=bi("告警与缺失", "alarms and gaps"),
                        legend=alt.Legend(orient="bottom", labelLimit=420)),
        tooltip=[alt.Tooltip("kind:N", title=bi("类型", "kind")),
                 alt.Tooltip("detail:N", title=bi("说明", "detail")),
                 alt.Tooltip("opened:N", title=bi("开始", "from")),
                 alt.Tooltip("end:T", title=bi("结束", "to"), format="%m-%d %H:%M")],
    ).properties(height=70)  # follows the top's zoom through the shared x scale
    chart: alt.VConcatChart = alt.vconcat(top, lanes).resolve_scale(x="shared",
                                                                     color="independent")
    return chart


# --- frames ---------------------------------------------------------------------------


def frames_table(rows: Iterable[Mapping[str, Any]]) -> Table:
    """Frames, newest first, as the page lists them."""
    out = []
    for r in rows:
        dt = r["data_time"]
        reason = ""
        if r["status"] == "rejected":
            reason = f"{r['error_kind']}{'/' + r['error_field'] if r['error_field'] else ''}"
            reason += f": {r['error_message']}"
        out.append({"receive_time": _iso(r["receive_time"]).replace("T", " "),
                    "cn": r["cn"], "status": STATUS_LABELS.get(r["status"], r["status"]),
                    "data_time": _iso(dt).replace("T", " ") if dt else "",
                    "qn": r["qn"], "n_readings": int(r["n_readings"]),
                    "warnings": int(r["warnings"]), "reason": reason})
    return out


def frame_choice(row: Mapping[str, Any]) -> str:
    """One line naming a frame in the picker."""
    status = "✓" if row["status"] == "accepted" else "✗"
    return f"{status} {_iso(row['receive_time']).replace('T', ' ')} CN={row['cn']} QN={row['qn']}"


@dataclass(frozen=True, slots=True)
class Decoded:
    """A frame as the codec reads it: header fields and CP items, or why it is refused."""

    raw: str  # the bytes as text (undecodable bytes escaped)
    header: Table
    items: Table  # pollutant, suffix, value
    other_cp: Table  # CP fields not of a pollutant (DataTime, ...)
    warnings: list[str]
    error: str  # '' when the codec accepts it


def decode_frame(raw_hex: str, crc_variants: Sequence[str] = ()) -> Decoded:
    """Decode a stored frame with the Rust codec (``hj212.parse``), leniently, as the
    gateway does, allowing the station's CRC variants."""
    raw = bytes.fromhex(raw_hex)
    text = raw.decode("utf-8", errors="backslashreplace")
    try:
        frame = hj212.parse(raw, crc_variants=tuple(crc_variants))
    except hj212.FrameError as exc:
        where = f" ({bi('字段', 'field')} {exc.field})" if exc.field else ""
        return Decoded(raw=text, header=[], items=[], other_cp=[], warnings=[],
                       error=f"{exc.kind}{where}: {exc.message}")
    header = [{"field": k, "value": str(v)} for k, v in (
        ("QN", frame.qn), ("ST", frame.st), ("CN", frame.cn), ("MN", frame.mn),
        ("Flag", frame.flag), (bi("协议版本", "edition"), frame.edition),
        ("PNUM/PNO", f"{frame.pnum}/{frame.pno}"
                                        if frame.is_split else None),
        ("CRC", f"{frame.crc:04X}")) if v is not None]
    items = [{"code": pollutant_name(code), "suffix": suffix, "value": str(value)}
             for code, values in frame.pollutants.items() for suffix, value in values.items()]
    polluted = {f"{code}-{suffix}" for code, values in frame.pollutants.items()
                for suffix in values}
    other = [{"field": k, "value": v} for k, v in frame.cp.items() if k not in polluted]
    return Decoded(raw=text, header=header, items=items, other_cp=other,
                   warnings=list(frame.warnings), error="")
