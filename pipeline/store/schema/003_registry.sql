-- The station registry: one row per data logger (MN), and limits per station and
-- pollutant. Every write carries a larger version (milliseconds since the epoch at the
-- writer), so the newest row per key wins; read with FINAL. Deactivating is a new row
-- with active = 0, never a DELETE (18.16 has no light-weight deletes).
CREATE TABLE IF NOT EXISTS stations
(
    mn           String,
    pw           String,
    enterprise   String,
    outlet       String,
    st           String,   -- system code, e.g. '31' flue gas, '32' waste water
    edition      UInt16,   -- protocol edition the logger speaks: 2005, 2017 or 2025
    province     String,   -- Chinese name, e.g. '江苏'
    region       String,   -- service region (服务区域), e.g. '苏皖沪'
    rtd_interval UInt16,   -- seconds between 2011 uploads (30..3600)
    min_interval UInt16,   -- minutes between 2051 uploads
    active       UInt8,
    updated_at   DateTime('Asia/Shanghai'),
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY mn;

-- Limits per station and pollutant (2017 code). NaN where a bound does not apply (no
-- lower emission limit for COD; pH has both). basis says which hourly value is compared
-- with the emission limit: 'avg' (waste water) or 'zs_avg' (flue gas, converted to
-- reference O2).
CREATE TABLE IF NOT EXISTS limits
(
    mn           String,
    code         String,
    limit_low    Float64,
    limit_high   Float64,
    basis        String,
    range_low    Float64,  -- instrument measuring range
    range_high   Float64,
    unit         String,
    active       UInt8,
    updated_at   DateTime('Asia/Shanghai'),
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (mn, code);
