"""hj212 notify: alarm notifications (routing, grouping, escalation, silences) to WeCom,
DingTalk, webhooks and mail."""
