-- When, from what and by which rule an alarm was raised (issue 13, item 4). Before this,
-- an alarm row said only when its evidence began (opened_at: for an hourly record the
-- start of the hour), not when the duty centre was told.
--
--   raised_at         wall time the alarm was raised: the receive time of the reading
--                     whose observation opened it; for offline and missing data, the
--                     worker's clock tick that found it. NULL: a row written before this
--                     migration (readers then show opened_at as the only time known).
--   raised_data_time  data time of that reading; for offline, the time the station was
--                     due to be heard at the latest; for missing data, the data time of
--                     the first record that did not come. NULL: an older row.
--   opened_cn         data type (2011 实时, 2051 分钟, 2061 小时, 2031 日) of the reading
--                     that opened the alarm; cn stays the latest evidence's. 0: unknown
--                     (an older row: read cn) or the station as a whole (offline).
--   rule_class        the rule's class in pipeline/detect/names.py: value, time, station,
--                     clue. '': an older row (readers derive it: names.rule_class).
-- Every step of an alarm (open, update, clear) carries the opening's values.
--
-- Corrected comments of 004_alarms.sql, which cannot be edited (the migrator refuses an
-- applied file whose checksum changed); the one list is pipeline/detect/names.py:
--   rule      the vocabulary's names: over_limit, negative, zero_streak, constant_streak,
--             out_of_range, spike, non_n_flag, logic_min_avg_max, logic_zs_without_o2,
--             logic_cou, time_future, time_stale, time_conflict, offline, missing, and
--             the clue rules clue_*; rows written before may say constant, flag or
--             missing_data (names.canonical maps them)
--   severity  info, warning, major, critical
--   opened_at data time the evidence began when the alarm opened (part of alarm_id; it
--             stays put when late evidence moves the episode's start earlier)
--   cn        data type of the latest evidence
-- Not as ALTER TABLE ... COMMENT COLUMN: tests/store_seed.py's schema reader knows only
-- CREATE TABLE and ADD COLUMN statements.
--
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: should this file fail half way, the
-- columns it added must be dropped by hand before it is run again (ALTER TABLE alarms
-- DROP COLUMN ...). Old parts read the defaults below without being rewritten.
ALTER TABLE alarms ADD COLUMN raised_at Nullable(DateTime('Asia/Shanghai')) DEFAULT NULL;
ALTER TABLE alarms ADD COLUMN raised_data_time Nullable(DateTime('Asia/Shanghai')) DEFAULT NULL;
ALTER TABLE alarms ADD COLUMN opened_cn UInt16 DEFAULT 0;
ALTER TABLE alarms ADD COLUMN rule_class String DEFAULT '';
