-- Who did what, when, from where: logins, logouts, account changes and every write a
-- page makes. Append-only: rows are never changed or deleted (MergeTree, no version).
-- time_ms orders events within a second and times login throttling; detail is JSON
-- text and never holds a password (admin/audit.py refuses secret-looking keys).
CREATE TABLE IF NOT EXISTS audit_log
(
    time    DateTime('Asia/Shanghai'),
    time_ms UInt64,   -- the same instant, milliseconds since the Unix epoch
    actor   String,   -- a user name, the OS user of a CLI call, or 'system'
    action  String,   -- login_ok, login_failed, login_throttled, logout, user_add, ...
    target  String,   -- what it was done to: a user name, a record id ...
    source  String,   -- the client's IP address, or 'cli'
    detail  String    -- JSON object
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (time, action, target);
