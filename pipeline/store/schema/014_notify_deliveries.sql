-- hj212 notify's delivery log (pipeline/notify/deliveries.py): one row per state of a
-- notification (pending -> retrying ... -> sent or dead; or suppressed by a silence),
-- the newest version winning (FINAL). notification_id is derived from the receiver,
-- the group keys and the items (alarm id, kind, number), so a restart that forms the
-- same message finds it here and never sends it twice; items holds the alarms'
-- snapshots as JSON, from which a restart resumes unfinished notifications and knows
-- which alarms are still open. last_error never holds a secret.
CREATE TABLE IF NOT EXISTS notify_deliveries
(
    notification_id String,
    receiver        String,
    route           String,          -- the routes of its items, comma separated
    group_key       String,          -- 'mn:<MN>', 'ent:<enterprise>', 'esc:<MN>'; digests: several
    alarm_ids       Array(String),
    item_kinds      Array(String),   -- firing, repeat, resolved, escalation (beside alarm_ids)
    items           String,          -- JSON: [{route, group_key, kind, n, alarm}]
    state           String,          -- pending, retrying, sent, dead, suppressed
    attempts        UInt16,
    last_error      String,
    silence_id      String,          -- the silence that suppressed it
    created_at      DateTime('Asia/Shanghai'),
    at              DateTime('Asia/Shanghai'),
    at_ms           UInt64,
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(created_at)
ORDER BY (receiver, notification_id);
