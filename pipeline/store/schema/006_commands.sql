-- The downlink log: each request the platform sends to a logger (keyed by its QN) and
-- how the conversation went (9011 QnRtn, 9012 ExeRtn). Rewritten with a larger version
-- at each step; read with FINAL.
CREATE TABLE IF NOT EXISTS commands
(
    qn           String,
    mn           String,
    cn           UInt16,
    st           String,
    purpose      String,   -- backfill, time_sync, interval, manual, ...
    begin_time   Nullable(DateTime('Asia/Shanghai')),  -- history requests only
    end_time     Nullable(DateTime('Asia/Shanghai')),
    request      String,   -- the frame as sent
    state        String,   -- queued, sent, accepted, refused, executed, failed,
                           -- timed_out, offline
    qn_rtn       Nullable(UInt16),
    exe_rtn      Nullable(UInt16),
    gateway      String,
    peer         String,
    requested_at DateTime('Asia/Shanghai'),
    sent_at      Nullable(DateTime('Asia/Shanghai')),
    answered_at  Nullable(DateTime('Asia/Shanghai')),
    finished_at  Nullable(DateTime('Asia/Shanghai')),
    detail       String,
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(requested_at)
ORDER BY (mn, qn);
