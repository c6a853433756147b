"""Messages as the robots take them: Chinese first, within 4096 bytes, digests count."""

from __future__ import annotations

import re

from pipeline.notify import render
from pipeline.notify.model import Item, Notification, Receiver
from tests.unit.notify_helpers import T0_MS, alarm

WECOM = Receiver("yg", "wecom", title="云贵川渝 365 群", per_minute=20, max_lines=20)


def note(items):
    return Notification.of("yg", items, T0_MS)


def item(a, kind="firing", n=0):
    return Item("yg", "r", f"mn:{a.mn}", kind, n, a)


def test_one_station_message_in_chinese_with_its_items_and_footer():
    n = note([item(alarm()), item(alarm(rule="negative", severity="critical"))])
    body = render.wecom_body(n, WECOM)
    text = body["markdown"]["content"]
    assert body["msgtype"] == "markdown"
    assert text.startswith("### 【严重告警】甲公司 1号排口 (MN1) · 新告警 2")
    assert "超标(over_limit)" in text and "负值(negative)" in text
    assert "值 12.5 限值 10" in text and "服务区域 云贵川渝" in text
    assert f"通知编号 {n.notification_id} · 共 2 条" in text
    assert '<font color="warning">严重</font>' in text


def test_a_storm_digest_fits_4096_bytes_and_counts_every_item():
    items = [item(alarm(mn=f"MN{k % 40:02d}", rule=["over_limit", "negative", "spike"][k % 3],
                        enterprise=f"某某环保科技有限公司第{k % 40}分厂"))
             for k in range(1500)]
    n = note(items)
    assert n.digest
    for body, text in ((render.wecom_body(n, WECOM), None),
                       (render.dingtalk_body(n, WECOM), None)):
        md = body["markdown"]
        text = md.get("content") or md["text"]
        assert len(text.encode()) <= 4096
        assert "告警汇总" in text and "40 个站点" in text
        assert re.search(r"共 1500 条", text)
        shown = text.count("\n> ") - (1 if "另有" in text else 0)
        assert f"另有 {1500 - shown} 条" in text
        assert "超标 500" in text  # the counts by rule cover all items


def test_long_messages_are_cut_not_the_footer():
    a = alarm()
    a = a.__class__(**{**a.to_json(), "message": "很长" * 3000,
                       "enterprise": "企" * 2000})
    n = note([item(a)])
    text = render.wecom_body(n, WECOM)["markdown"]["content"]
    assert len(text.encode()) <= 4096 and text.endswith("共 1 条</font>")


def test_resolved_repeat_and_escalation_are_named():
    n = note([item(alarm(), "repeat", 2), item(alarm(rule="spike"), "resolved"),
              item(alarm(rule="zero_streak"), "escalation")])
    text = render.markdown(n, WECOM)
    assert "仍未恢复(第2次)" in text and "已恢复" in text and "超时未确认·升级" in text


def test_webhook_body_carries_every_item_and_mail_has_english_beside():
    items = [item(alarm(mn=f"M{k}")) for k in range(300)]
    n = note(items)
    body = render.webhook_body(n, WECOM)
    assert [i["alarm"]["mn"] for i in body["items"]] == [f"M{k}" for k in range(300)]
    subject, text = render.mail_text(n, WECOM)
    assert "告警汇总" in subject and "Alarm notification" in text and text.count("\n- M") >= 0
