-- Gaps in a station's data of one type: from detection through back-fill to the end.
-- A window keeps its start; its end may grow while it is open. Rewritten with a larger
-- version on each change; read with FINAL.
CREATE TABLE IF NOT EXISTS missing_windows
(
    mn              String,
    cn              UInt16,   -- 2011, 2051, 2061 or 2031
    window_start    DateTime('Asia/Shanghai'),  -- data time of the first missing record
    window_end      DateTime('Asia/Shanghai'),  -- data time of the last missing record
    state           String,   -- open, requested, filled, partly_filled, given_up
    expected        UInt32,   -- records the window should hold
    received        UInt32,   -- records that arrived for it since
    requests        UInt16,   -- back-fill requests sent
    last_request_qn String,
    last_request_at Nullable(DateTime('Asia/Shanghai')),
    detected_at     DateTime('Asia/Shanghai'),
    updated_at      DateTime('Asia/Shanghai'),
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(window_start)
ORDER BY (mn, cn, window_start);
