-- The ledger (pipeline/ledger/): event-sourced records with one writer per record.
-- ledger_events is append-only: one row per appended change, numbered 1, 2, ... per
-- record (stream, record_id); the record's state is derived from its rows in seq order.
-- Only `hj212 ledger` appends here (one writer per record, by Kafka partition), so seq
-- is unique per record without any compare-and-set in ClickHouse. at_ms orders and
-- times events within a second (18.16 has no DateTime64); payload is a JSON object.
CREATE TABLE IF NOT EXISTS ledger_events
(
    stream     String,   -- 'alarm', later 'work_order', ...
    record_id  String,   -- e.g. an alarm_id
    seq        UInt32,   -- 1, 2, ... within the record
    request_id String,   -- the change's idempotency key (uuid4 hex)
    kind       String,   -- the stream's verb: 'ack', 'assign', 'comment', ...
    actor      String,   -- a user name, or 'system:<service>'
    at         DateTime('Asia/Shanghai'),  -- when the writer appended it
    at_ms      UInt64,   -- the same instant, milliseconds since the Unix epoch
    payload    String,   -- JSON object
    source     String    -- 'web', 'cli', 'notify', ...
)
ENGINE = MergeTree
ORDER BY (stream, record_id, seq);

-- The writer's answer to each change, which the submitter polls for by request_id. A
-- change read again after a crash is answered with the reply already here, so a replay
-- writes nothing new; where it does write (the event was appended, the reply was not),
-- it writes the same reply, and ReplacingMergeTree folds any such twin.
CREATE TABLE IF NOT EXISTS ledger_replies
(
    request_id String,
    stream     String,
    record_id  String,
    outcome    String,   -- appended, conflict, refused
    seq        UInt32,   -- the appended event's seq; else the record's last seq
    message    String,   -- why, for conflict and refused, in the users' words
    at         DateTime('Asia/Shanghai'),
    at_ms      UInt64
)
ENGINE = ReplacingMergeTree
ORDER BY request_id;
