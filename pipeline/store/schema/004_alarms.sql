-- Alarm episodes: one per (station, pollutant, rule) from opening to clearing. The
-- detector rewrites the episode's row (same key, larger version) as evidence comes in
-- and when it clears, so FINAL gives each episode's current state. Station-wide rules
-- (offline, missing data) use code = ''.
CREATE TABLE IF NOT EXISTS alarms
(
    alarm_id     String,   -- stable id for work orders: '<mn>/<code>/<rule>/<opened_at>'
    mn           String,
    cn           UInt16,   -- data type of the evidence (2011, 2051, 2061, 2031); 0: none
    code         String,
    rule         String,   -- over_limit, negative, zero_streak, constant, out_of_range,
                           -- spike, flag, logic, time, missing_data, offline, ...
    severity     String,   -- info, warning, critical
    state        String,   -- open, cleared
    opened_at    DateTime('Asia/Shanghai'),
    last_seen    DateTime('Asia/Shanghai'),
    cleared_at   Nullable(DateTime('Asia/Shanghai')),
    occurrences  UInt32,
    value        Float64,  -- latest evidence value; NaN when the rule has none
    threshold    Float64,
    message      String,
    evidence     String,   -- JSON: the values that made the case
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(opened_at)
ORDER BY (mn, code, rule, opened_at);
