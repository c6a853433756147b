-- One row per station x data type (CN) x pollutant x data time.
--
-- Values are Float64 with NaN for "field absent" (not Nullable): a 2011 frame has Rtd
-- but no Avg, and NaN lets the sink hand decode_batch's float columns to the server
-- without a per-value null map, which is what makes 500 k rows/s reachable from Python.
-- Aggregate with the -If combinators: avgIf(avg, isFinite(avg)).
--
-- A replay or a logger's resend of the same record replaces it (the latest receive_time
-- wins); read with FINAL where duplicates before a merge would matter.
-- code is the 2017 pollutant code (2005 short codes are mapped where the standard's
-- table knows them); wire_code is what the logger sent.
CREATE TABLE IF NOT EXISTS readings
(
    mn           String,
    st           String,
    cn           UInt16,
    code         String,
    wire_code    String,
    data_time    DateTime('Asia/Shanghai'),
    rtd          Float64,
    min          Float64,
    avg          Float64,
    max          Float64,
    cou          Float64,
    zs_rtd       Float64,
    zs_min       Float64,
    zs_avg       Float64,
    zs_max       Float64,
    rs           Float64,
    rt           Float64,
    data         Float64,
    day_data     Float64,
    night_data   Float64,
    ala          Float64,
    up_value     Float64,
    low_value    Float64,
    flag         String,   -- instrument data flag (N, F, M, S, D, C, T, B); '' when absent
    eflag        String,
    qn           String,
    edition      UInt16,
    receive_time DateTime('Asia/Shanghai')
)
ENGINE = ReplacingMergeTree(receive_time)
PARTITION BY toYYYYMM(data_time)
ORDER BY (mn, cn, code, data_time);
