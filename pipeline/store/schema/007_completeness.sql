-- Compliance figures per station, pollutant and period (HJ212.md, the end):
-- transmission rate = received / expected, validity rate = valid / received,
-- transmission-efficiency = their product. period is 'day' (hourly 2061 records, 24
-- expected) or 'hour' (minute 2051 records, 60 / MinInterval expected); code '' is the
-- whole station. Rewritten with a larger version when late or back-filled records
-- change a period; read with FINAL. Computed by pipeline.detect.completeness
-- (REFRESH_DAILY_SQL fills it from readings).
CREATE TABLE IF NOT EXISTS completeness
(
    mn                      String,
    code                    String,
    period                  String,
    period_start            DateTime('Asia/Shanghai'),
    expected                UInt32,
    received                UInt32,
    valid                   UInt32,
    transmission_rate       Float64,
    validity_rate           Float64,
    transmission_efficiency Float64,
    updated_at              DateTime('Asia/Shanghai'),
    version                 UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(period_start)
ORDER BY (mn, period, code, period_start);
