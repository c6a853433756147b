-- CRC variants a station's logger may use (the registry's optional stations column
-- crc_variants): codec names, comma separated, '' = only the standard's CRC. The gateway
-- accepts a frame whose CRC matches an allowed variant, with a warning, while the
-- logger's firmware is fixed (pipeline/gateway/README.md). Written with the stations row
-- it belongs to (same version); a station without a row here has none. Read with FINAL,
-- joined to stations by mn.
--
-- A table of its own rather than a column of stations: ClickHouse 18.16 has no
-- ALTER TABLE ... ADD COLUMN IF NOT EXISTS, and every migration must be safe to re-run
-- (pipeline/store/migrate.py).
CREATE TABLE IF NOT EXISTS station_crc_variants
(
    mn           String,
    crc_variants String,
    updated_at   DateTime('Asia/Shanghai'),
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY mn;
