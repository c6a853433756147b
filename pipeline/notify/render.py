"""Notifications as the receivers take them: WeCom and DingTalk markdown, a generic JSON
webhook body, a mail's subject and text. Pure. Chinese first, English beside it where
there is room.

Sizes: a WeCom markdown message holds at most 4096 bytes of UTF-8; DingTalk takes more
but a chat message longer than a screen is not read, so both are cut at
``ROBOT_BYTES``. A message lists its items line by line up to the receiver's
``max_lines`` and what fits; a digest (several stations in one message, under a storm)
first counts them by station and rule. Every message ends with its notification id and
its item count (``通知编号 N-... · 共 K 条``), so a group member can quote it and the
count at a receiver can be checked against the delivery log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Final

from pipeline.detect.names import SEVERITY_ZH, canonical, raised_line, rule_zh
from pipeline.notify.model import Alarm, Item, Notification, Receiver

#: WeCom's documented markdown limit (bytes of UTF-8)
WECOM_BYTES: Final = 4096
ROBOT_BYTES: Final = 4000
#: most station lines in a digest's count table
DIGEST_STATIONS: Final = 12

KIND_ZH: Final = {"firing": "新告警", "repeat": "仍未恢复", "resolved": "已恢复",
                  "escalation": "超时未确认·升级"}
KIND_EN: Final = {"firing": "firing", "repeat": "still open", "resolved": "resolved",
                  "escalation": "unacknowledged, escalated"}
_WECOM_COLOR: Final = {"critical": "warning", "major": "warning", "warning": "comment",
                       "info": "comment"}


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def footer(n: Notification) -> str:
    return f"通知编号 {n.notification_id} · 共 {len(n.items)} 条"


def title(n: Notification, receiver: Receiver) -> str:
    if n.operator is not None:
        return _operator_title(n)
    kinds = Counter(i.kind for i in n.items)
    worst = _worst(n.items)
    what = "、".join(f"{KIND_ZH[k]} {c}" for k, c in kinds.items())
    where = (f"{len({i.alarm.mn for i in n.items})} 个站点" if n.digest
             else _station(n.items[0]))
    head = "告警汇总" if n.digest else "告警"
    return f"【{SEVERITY_ZH.get(worst, worst)}{head}】{where} · {what}"


def _worst(items: Sequence[Item]) -> str:
    order = ("critical", "major", "warning", "info")
    sev = {i.alarm.severity for i in items}
    return next((s for s in order if s in sev), items[0].alarm.severity)


def _station(item: Item) -> str:
    a = item.alarm
    name = a.enterprise or "未登记站点"
    return f"{name} {a.outlet}".strip() + f" ({a.mn})"


def item_line(item: Item, *, markdown: bool = True, wecom: bool = False) -> str:
    a = item.alarm
    sev = SEVERITY_ZH.get(a.severity, a.severity)
    if wecom:
        sev = f'<font color="{_WECOM_COLOR.get(a.severity, "comment")}">{sev}</font>'
    elif markdown:
        sev = f"**{sev}**"
    kind = KIND_ZH.get(item.kind, item.kind)
    if item.kind == "repeat":
        kind += f"(第{item.n}次)"
    code = f"{a.code} " if a.code else ""
    when = timing(a)
    if a.cleared and a.cleared_at:
        when = f"恢复 {a.cleared_at[5:16]}" + (f"，{when}" if when else "")
    value = ""
    if "value" in a.evidence:
        value = f" 值 {a.evidence['value']}"
        limit = a.evidence.get("threshold", a.evidence.get("limit"))
        if limit is not None:
            value += f" 限值 {limit}"
    state = " 已恢复" if a.cleared and item.kind != "resolved" else ""
    station = "" if not markdown else f"{a.mn} "
    rule = canonical(a.rule)
    return (f"{sev} {kind}{state} · {station}{code}{rule_zh(rule)}({rule}){value}"
            + (f" · {when}" if when else ""))


def timing(a: Alarm) -> str:
    """When and from what the alarm was raised, Chinese: ``发出 06-01 08:00:05（数据
    07:59:00），证据始于 06-01 07:00:00，来自小时数据``. The alarm message carries
    ``raised_at``, ``raised_data_time``, ``evidence_began`` and ``opened_cn``
    (pipeline/stream/sinks.py); an alarm that lacks them (an older message, or a model
    without those fields) is told by when its evidence began and its data type."""
    began = getattr(a, "evidence_began", None) or a.opened_at
    return raised_line(getattr(a, "raised_at", None), getattr(a, "raised_data_time", None),
                       began, int(getattr(a, "opened_cn", 0) or a.cn))


def _digest_table(items: Sequence[Item]) -> list[str]:
    by_station: dict[str, Counter[str]] = {}
    for i in items:
        by_station.setdefault(i.alarm.mn, Counter())[rule_zh(i.alarm.rule)] += 1
    ordered = sorted(by_station.items(), key=lambda kv: -sum(kv[1].values()))
    lines = []
    for mn, rules in ordered[:DIGEST_STATIONS]:
        ent = next((i.alarm.enterprise for i in items if i.alarm.mn == mn), "")
        counts = "，".join(f"{r}×{c}" for r, c in rules.most_common(4))
        lines.append(f"- {ent} {mn}：{counts}".replace("-  ", "- "))
    if len(ordered) > DIGEST_STATIONS:
        rest = sum(sum(c.values()) for _, c in ordered[DIGEST_STATIONS:])
        lines.append(f"- 其余 {len(ordered) - DIGEST_STATIONS} 个站点共 {rest} 条")
    return lines


def markdown(n: Notification, receiver: Receiver, *, limit: int = ROBOT_BYTES,
             wecom: bool = False) -> str:
    """The message in the robots' markdown, at most ``limit`` bytes of UTF-8."""
    if n.operator is not None:
        return _operator_markdown(n, limit=limit, wecom=wecom)
    head = [f"### {title(n, receiver)}"]
    if not n.digest:
        a = n.items[0].alarm
        if a.region:
            head.append(f"服务区域 {a.region}" + (" · 365 服务" if a.service_365 else ""))
    else:
        rules = Counter(rule_zh(i.alarm.rule) for i in n.items)
        head.append("按规则 by rule：" + "，".join(f"{r} {c}" for r, c in rules.most_common(6)))
        head.extend(_digest_table(n.items))
        head.append("")
    tail = f"\n\n<font color=\"comment\">{footer(n)}</font>" if wecom else f"\n\n{footer(n)}"
    budget = limit - _size(tail)
    text = "\n".join(head)
    shown = 0
    for item in n.items[: max(receiver.max_lines, 1)]:
        line = "\n> " + item_line(item, wecom=wecom)
        more = len(n.items) - shown - 1
        reserve = _size(f"\n> …另有 {more} 条，详见值守台") if more else 0
        if _size(text) + _size(line) + reserve > budget:
            break
        text += line
        shown += 1
    if shown < len(n.items):
        text += f"\n> …另有 {len(n.items) - shown} 条，详见值守台"
    out = text + tail
    while _size(out) > limit:  # a head longer than the budget: cut it, never the footer
        text = text[: max(0, len(text) - 64)]
        out = text + "\n…" + tail
    return out


def wecom_body(n: Notification, receiver: Receiver) -> dict[str, Any]:
    return {"msgtype": "markdown",
            "markdown": {"content": markdown(n, receiver, limit=min(ROBOT_BYTES, WECOM_BYTES),
                                             wecom=True)}}


def dingtalk_body(n: Notification, receiver: Receiver) -> dict[str, Any]:
    return {"msgtype": "markdown",
            "markdown": {"title": title(n, receiver)[:64],
                         "text": markdown(n, receiver)}}


def webhook_body(n: Notification, receiver: Receiver) -> dict[str, Any]:
    """Everything, machine-readable: one entry per item with its alarm (and for an
    operator's notify, ``operator``: who wrote what, when, to whom)."""
    if n.operator is not None:
        # the same shape as an alarm notice's (a consumer reading items keeps working),
        # the operator's note beside it
        i = n.items[0]
        return {"notification_id": n.notification_id, "receiver": receiver.name,
                "kind": "operator", "title": title(n, receiver), "digest": False,
                "text": n.operator.text, "operator": n.operator.to_json(),
                "alarm": i.alarm.to_json(),
                "items": [{"kind": i.kind, "n": i.n, "route": i.route,
                           "group_key": i.group_key, "alarm": i.alarm.to_json(),
                           "operator": n.operator.to_json()}]}
    return {"notification_id": n.notification_id, "receiver": receiver.name,
            "title": title(n, receiver), "digest": n.digest,
            "items": [{"kind": i.kind, "n": i.n, "route": i.route,
                       "group_key": i.group_key, "alarm": i.alarm.to_json()}
                      for i in n.items]}


def mail_text(n: Notification, receiver: Receiver) -> tuple[str, str]:
    """(subject, plain-text body)."""
    if n.operator is not None:
        return title(n, receiver), _operator_plain(n)
    lines = [title(n, receiver), ""]
    if n.digest:
        lines += [*_digest_table(n.items), ""]
    for i in n.items:
        a = i.alarm
        lines.append(f"- {a.enterprise or '未登记站点'} {a.outlet} {a.mn} "
                     f"[{a.region or '无区域'}]: "
                     + item_line(i, markdown=False)
                     + (f"\n  {a.message}" if a.message else ""))
    lines += ["", footer(n), "",
              f"Alarm notification ({', '.join(sorted({KIND_EN[i.kind] for i in n.items}))})"
              " from the duty centre (值守中心). Acknowledge it on the duty desk (值守台)."]
    return title(n, receiver), "\n".join(lines)


def plain(n: Notification, receiver: Receiver) -> str:
    """What the print receiver shows: the text a robot would get."""
    return markdown(n, receiver)


# --- an operator's "notify the enterprise" (operator.py) ---------------------------------

#: service records' streams in the users' words (a record's notice names its record)
RECORD_ZH: Final = {"work_order": "运维工单", "subscription": "365服务", "inspection": "巡检",
                    "visit": "回访", "complaint": "投诉"}


def _operator_title(n: Notification) -> str:
    return f"【值守中心通知】{_station(n.items[0])}"


def _alarm_line(n: Notification) -> str:
    a = n.items[0].alarm
    sev = SEVERITY_ZH.get(a.severity, a.severity)
    what = f"{a.code} " if a.code else ""
    what += f"{rule_zh(a.rule)}({a.rule})" if a.rule else a.alarm_id
    state = "已恢复" if a.cleared else "未恢复"
    return (f"{sev + ' ' if sev else ''}{what} · 发生于 {a.opened_at or '-'} · {state}")


def _operator_facts(n: Notification) -> list[str]:
    note = n.operator
    assert note is not None
    a = n.items[0].alarm
    stream, _, record = a.alarm_id.partition(":")
    if record and "/" not in stream:
        # a service record's notice (operator.alarm_from_record): name the record
        what = f"记录 record：{RECORD_ZH.get(stream, stream)} {record}"
    else:
        what = f"告警 alarm：{_alarm_line(n)}"
    facts = [f"企业 enterprise：{a.enterprise or '未登记站点'} {a.outlet}".rstrip(),
             f"站点 station：{a.mn or '-'}" + (f"（{a.region}）" if a.region else ""),
             what, f"值守人员 sent by：{note.by} · {note.at}"]
    if note.recipient:
        facts.append(f"联系人 to：{note.recipient}")
    return facts


def _operator_markdown(n: Notification, *, limit: int, wecom: bool) -> str:
    """The operator's words first (quoted), then who, which alarm, when; cut to
    ``limit`` bytes only in the operator's text, never the facts or the footer."""
    note = n.operator
    assert note is not None
    ref = f"通知编号 {n.notification_id} · 告警编号 {n.items[0].alarm.alarm_id}"
    tail = f"\n\n<font color=\"comment\">{ref}</font>" if wecom else f"\n\n{ref}"
    facts = "\n\n" + "\n".join(f"- {f}" for f in _operator_facts(n))
    top = f"### {_operator_title(n)}\n"

    def build(text: str) -> str:
        quoted = "\n".join(f"> {line}" if line.strip() else ">"
                            for line in (text.splitlines() or [""]))
        return top + quoted + facts + tail

    out = build(note.text)
    text = note.text
    while _size(out) > limit and text:
        text = text[: max(0, len(text) - 32)]
        out = build(text + "…（全文见值守台 full text on the duty desk）")
    return out


def _operator_plain(n: Notification) -> str:
    note = n.operator
    assert note is not None
    return "\n".join([_operator_title(n), "", note.text, "", *_operator_facts(n), "",
                       f"通知编号 {n.notification_id} · 告警编号 {n.items[0].alarm.alarm_id}",
                       "", "A notice from the duty centre (值守中心) about the alarm above, "
                       f"sent by {note.by} at {note.at} (CST)."])
