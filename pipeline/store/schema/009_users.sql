-- People who log in to the web app (and whom `hj212 users` manages): one row per change.
-- Every change writes the whole user again with a larger version (milliseconds since the
-- epoch at the writer), so the newest row per user name wins; read with FINAL. Nothing
-- is deleted: a disabled user is a row with active = 0, and a name is never reused.
-- password_hash is argon2id ($argon2id$...); the password itself is stored nowhere.
CREATE TABLE IF NOT EXISTS users
(
    username      String,          -- lower case, e.g. 'zhang.wei'
    display_name  String,
    roles         Array(String),   -- admin.roles.Role values, e.g. ['duty_operator']
    regions       Array(String),   -- service regions (服务区域) seen; empty: all
    password_hash String,
    active        UInt8,
    changed_by    String,          -- who made this change (a user name, an OS user, 'system')
    changed_at    DateTime('Asia/Shanghai'),
    version       UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY username;
