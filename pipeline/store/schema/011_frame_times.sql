-- frame_times: when each frame arrived, ordered by that time, for the web app's questions
-- "what came in over the last minutes or hours, fleet-wide" (the overview's station
-- status and frames per minute).
--
-- Why a second table: frames is ordered by (mn, cn, qn, raw_hash), so a receive-time
-- range over the whole fleet reads the receive_time of every row of the month's
-- partition. At the end of a month of a 320-station fleet at full rate (~14 M frames)
-- that took 1.4-2.7 s (p95) on 2 cores against the pages' 1 s target; here the primary
-- key is the receive time and the same questions take 0.1-0.2 s
-- (benchmarks/results/dashboards-rollup.md). ClickHouse 18.16 has no data-skipping
-- indices, which would have been the other cure.
--
-- Filled by the materialized view from every insert into frames (the worker, the seed,
-- back-fill: no writer knows of it), and once by the INSERT below from the frames
-- stored before this migration. Plain MergeTree: a replay's duplicate, or a repeat of
-- that INSERT after a failure half way, changes neither max(receive_time) nor
-- uniqExact(mn, cn, qn, raw_hash), all that is read from it.
CREATE TABLE IF NOT EXISTS frame_times
(
    receive_time DateTime('Asia/Shanghai'),
    mn           String,
    status       String,
    cn           String,
    qn           String,
    raw_hash     UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(receive_time)
ORDER BY (receive_time, mn);

CREATE MATERIALIZED VIEW IF NOT EXISTS frame_times_mv TO frame_times AS
SELECT receive_time, mn, status, cn, qn, raw_hash FROM frames;

INSERT INTO frame_times SELECT receive_time, mn, status, cn, qn, raw_hash FROM frames;
