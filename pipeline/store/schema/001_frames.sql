-- Every frame received, accepted or rejected, with its raw bytes and the reason.
--
-- Identity: a logger that got no answer resends the same bytes (same QN), and a Kafka
-- replay delivers the same message again; both must leave one row. So the key is
-- (mn, cn, qn, hash of the raw bytes), never the receive time. ReplacingMergeTree keeps
-- the last inserted copy; duplicates vanish at merge time, so read with FINAL (or
-- GROUP BY the key) where an exact count matters. A resend that crosses a month boundary
-- of receive_time lands in another partition and stays a second row (rare, harmless).
--
-- Strings hold the header text as sent; empty where the frame lacked the field or was
-- too broken to read it. raw is the frame's bytes as received (may be non-UTF-8 for
-- rejected frames: read it with hex(raw) or a bytes-mode client).
CREATE TABLE IF NOT EXISTS frames
(
    receive_time  DateTime('Asia/Shanghai'),
    gateway       String,
    peer          String,
    mn            String,
    st            String,
    cn            String,
    qn            String,
    flag          Int16,   -- Flag as sent; -1 when absent (2005 frames)
    edition       UInt16,  -- 2005, 2017, 2025; 0 when unknown (rejected)
    data_time     Nullable(DateTime('Asia/Shanghai')),
    status        String,  -- 'accepted' or 'rejected'
    error_kind    String,  -- header, length, crc, tail, encoding, field, cp, value; '' if accepted
    error_field   String,
    error_message String,
    warnings      UInt32,  -- lenient-mode deviations (bare LF, lower-case CRC, ...)
    n_readings    UInt32,  -- rows this frame gave to readings
    raw           String,
    raw_hash      UInt64 DEFAULT cityHash64(raw)
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(receive_time)
ORDER BY (mn, cn, qn, raw_hash);
