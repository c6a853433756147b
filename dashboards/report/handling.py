"""What the duty centre and the engineers did about each anomaly episode, for the weekly
report's anomaly table (周报 "处理情况"): the ledger's events in the week (the named query
``report_actions``, pipeline/store/queries_report.py) as one short Chinese sentence each.

``actions_of`` is pure (rows in, actions out, in time order per alarm);
``report_actions`` is the report's HandlingSource (dashboards/report/data.py) that asks
the query. Registered into HANDLING_SOURCES by dashboards/report/render.py, which every
import of the report package runs (its ``__init__``), so the page and the CLI both get it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from dashboards.report.data import Action, HandlingSource, Run
from dashboards.report.week import Week
from pipeline.ledger.codec import from_ms

QUERY: Final = "report_actions"

#: Action.kind of each (stream, verb)
KINDS: Final[Mapping[tuple[str, str], str]] = {
    ("alarm", "ack"): "acknowledged",
    ("alarm", "notify"): "notified",
    ("alarm", "dispatch"): "work_order",
    ("alarm", "resolve"): "resolved",
    ("alarm", "close"): "closed",
    ("work_order", "arrive"): "work_order",
    ("work_order", "resolve"): "work_order",
    ("work_order", "close"): "work_order",
}

#: how the enterprise was told (pipeline/duty/lifecycle.CHANNELS), as the sentence says it
CHANNEL_ZH: Final[Mapping[str, str]] = {
    "phone": "电话", "wecom": "企业微信", "dingtalk": "钉钉", "sms": "短信", "email": "邮件",
    "webhook": "Webhook ", "web": "平台消息",
}

#: the longest free text (a cause, a verification) kept in a sentence: the report's
#: anomaly table is one narrow column of an A4 page; the whole text is in the record
MAX_FREE_TEXT: Final = 30


def short(text: str, limit: int = MAX_FREE_TEXT) -> str:
    """``text`` on one line, cut to ``limit`` characters with '…'."""
    one = " ".join(text.split())
    return one if len(one) <= limit else one[:limit - 1] + "…"


def person(user: str, display_name: str) -> str:
    """The name a reader knows: the display name, else the user name; a service
    ('system:notify') is the platform."""
    if user.startswith("system:"):
        return "平台"
    return display_name.strip() or user


def when(at: datetime) -> str:
    return f"{at:%m-%d %H:%M}"


def sentence(row: Mapping[str, Any], at: datetime) -> str | None:
    """The row's sentence, or None for an event the report does not tell."""
    stream, kind = row["stream"], row["kind"]
    t = when(at)
    who = person(str(row["actor"]), str(row.get("actor_name") or ""))
    if stream == "alarm":
        if kind == "ack":
            role = "" if who == "平台" else "值守员 "
            return f"{role}{who} {t} 确认告警"
        if kind == "notify":
            channel = CHANNEL_ZH.get(row["channel"], row["channel"])
            whom = short(row["recipient"] or row["receiver"])
            return f"{t} {channel}通知企业" + (f"（{whom}）" if whom else "")
        if kind == "dispatch":
            engineer = person(str(row["engineer"]), str(row.get("engineer_name") or ""))
            return f"{t} 派单 {row['work_order_id']} 给 {engineer}"
        if kind == "resolve":
            check = short(row["verification"])
            return f"{t} 值守确认数据恢复" + (f"：{check}" if check else "")
        if kind == "close":
            return f"{t} 确认数据恢复后关闭"
    if stream == "work_order":
        if kind == "arrive":
            return f"工程师 {who} {t} 到场"
        if kind == "resolve":
            parts = [f"{label}{short(row[key])}" for label, key in
                     (("原因：", "cause"), ("措施：", "action_taken"), ("结果：", "result"))
                     if str(row[key]).strip()]
            return f"{t} 处理完成" + (f"，{'；'.join(parts)}" if parts else "")
        if kind == "close":
            return f"{t} 工单 {row['record_id']} 关闭"
    return None


def actions_of(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Action]]:
    """alarm_id -> its actions in time order (the alarm's and its work orders' events
    interleaved; events of the same millisecond in the order they were appended)."""
    def order(r: Mapping[str, Any]) -> tuple[int, int, str, int]:
        return (int(r["at_ms"]), r["stream"] != "alarm", str(r["record_id"]), int(r["seq"]))

    out: dict[str, list[Action]] = {}
    for r in sorted(rows, key=order):
        kind = KINDS.get((r["stream"], r["kind"]))
        at = from_ms(int(r["at_ms"])).replace(microsecond=0)
        text = sentence(r, at)
        if kind is None or text is None:
            continue
        out.setdefault(str(r["alarm_id"]), []).append(Action(kind, text, at))
    return out


def params(week: Week, scope: Mapping[str, Any]) -> dict[str, Any]:
    """The query's parameters: the week and the scope (with ``enterprise``)."""
    return {"start": week.start, "end": week.end, **scope}


def report_actions(run: Run, week: Week, scope: Mapping[str, Any]
                   ) -> Mapping[str, Sequence[Action]]:
    """The HandlingSource: the week's handling of the alarms in ``scope``."""
    return actions_of(run(QUERY, **params(week, scope)))


def register(sources: list[HandlingSource]) -> None:
    """Add ``report_actions`` to ``sources`` (data.HANDLING_SOURCES) once."""
    if report_actions not in sources:
        sources.append(report_actions)
