-- Silences and maintenance windows (静默 / 维护窗口) declared by duty operators: they
-- suppress notifications of matching alarms in [starts_at, ends_at) (the alarms are still
-- recorded, marked silenced). An empty mn, code, rule or region matches any value
-- (pipeline/duty/silences.py). Each change writes the whole silence again with a larger
-- version (milliseconds since the epoch); cancelling sets cancelled_at. Read with FINAL;
-- nothing is deleted.
CREATE TABLE IF NOT EXISTS silences
(
    silence_id   String,   -- 'SIL-YYYYMMDDhhmmss-<8 hex>'
    mn           String,   -- '' any station
    code         String,   -- '' any pollutant
    rule         String,   -- '' any rule
    region       String,   -- '' any service region
    starts_at    DateTime('Asia/Shanghai'),
    ends_at      DateTime('Asia/Shanghai'),   -- exclusive
    reason       String,
    created_by   String,
    created_at   DateTime('Asia/Shanghai'),
    cancelled_at Nullable(DateTime('Asia/Shanghai')),
    cancelled_by String,
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY silence_id;
