"""The store against the real ClickHouse of the local stack: migrations, the sink, replays,
named queries. Each test module works in its own database, dropped first, so "from empty"
is true and the developer's data is never touched."""

from __future__ import annotations

import asyncio
import math
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import hj212
import numpy as np
import pytest

from pipeline.simulator.corpus import Corpus
from pipeline.store import queries
from pipeline.store.client import ClickHouse
from pipeline.store.frame_rows import VALUE_COLUMNS, FrameSink, local_to_epoch
from pipeline.store.migrate import SCHEMA_DIR, MigrationError, Migrator, load_migrations
from pipeline.stream.sinks import AlarmSink, MissingSink
from pipeline.stream.store_queue import StoreQueue

pytestmark = pytest.mark.integration


def dsn_for(stack, database: str) -> str:
    parts = urlsplit(stack.clickhouse_dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def fresh(dsn: str) -> None:
    with ClickHouse(dsn, database="default") as ch:
        ch.execute(f"DROP DATABASE IF EXISTS `{ch.dsn.database}`")


@pytest.fixture(scope="module")
def dsn(stack) -> str:
    url = dsn_for(stack, "hj212_it_store")
    fresh(url)
    return url


@pytest.fixture(scope="module")
def migrated(dsn) -> str:
    Migrator(dsn).migrate()
    return dsn


def test_migrate_from_empty_then_again_is_a_no_op(dsn):
    files = [m.name for m in load_migrations()]
    migrator = Migrator(dsn)
    version, before = migrator.status()
    assert version.startswith(("18.", "19.", "2"))
    assert {s.status for s in before} == {"pending"}
    assert migrator.migrate() == files
    assert migrator.migrate() == []
    _, after = migrator.status()
    assert [(s.name, s.status) for s in after] == [(f, "applied") for f in files]
    with ClickHouse(dsn) as ch:
        tables = {r[0] for r in ch.execute("SHOW TABLES")}
        assert {"frames", "readings", "stations", "limits", "alarms", "missing_windows",
                "commands", "schema_migrations"} <= tables
        rows = ch.execute("SELECT name, checksum FROM schema_migrations ORDER BY name")
        assert rows == [(m.name, m.checksum) for m in load_migrations()]


def test_a_migration_that_adds_columns_runs_again_after_failing_half_way(migrated):
    # as if 015 had failed after its first ADD COLUMN: the column is there, the
    # migration is not recorded; running again must finish it, not fail on the column
    with ClickHouse(migrated) as ch:
        ch.execute("ALTER TABLE alarms DROP COLUMN rule_class")
        ch.execute("ALTER TABLE schema_migrations DELETE WHERE name = '015_alarm_raised.sql'")
        deadline = time.monotonic() + 30
        while ch.execute("SELECT count() FROM schema_migrations "
                         "WHERE name = '015_alarm_raised.sql'")[0][0]:
            assert time.monotonic() < deadline, "the mutation did not finish"
            time.sleep(0.2)
    assert Migrator(migrated).migrate() == ["015_alarm_raised.sql"]
    with ClickHouse(migrated) as ch:
        cols = {r[0] for r in ch.execute("SELECT name FROM system.columns WHERE "
                                         "database = currentDatabase() AND table = 'alarms'")}
    assert {"raised_at", "raised_data_time", "opened_cn", "rule_class"} <= cols


def test_a_changed_applied_migration_stops_the_run(stack, tmp_path: Path):
    url = dsn_for(stack, "hj212_it_drift")
    fresh(url)
    folder = tmp_path / "schema"
    shutil.copytree(SCHEMA_DIR, folder)
    Migrator(url, folder).migrate()
    target = folder / "002_readings.sql"
    target.write_text(target.read_text() + "\n-- edited after it was applied\n")
    with pytest.raises(MigrationError, match=r"002_readings\.sql"):
        Migrator(url, folder).migrate()
    _, states = Migrator(url, folder).status()
    assert {s.name: s.status for s in states}["002_readings.sql"] == "changed"
    fresh(url)


def _expected_rows(batch: hj212.Batch) -> set[tuple]:
    c = batch.columns
    times = local_to_epoch(c["data_time"]).tolist()
    out = set()
    for i in range(batch.n_rows):
        values = tuple(None if math.isnan(float(c[n][i])) else float(c[n][i])
                       for n in VALUE_COLUMNS)
        out.add((c["mn"][i].decode(), int(c["cn"][i]), c["code"][i].decode(), times[i],
                 *values, c["flag"][i].decode(), c["eflag"][i].decode()))
    return out


def _stored_rows(ch: ClickHouse) -> set[tuple]:
    cols = ", ".join(VALUE_COLUMNS)
    rows = ch.execute(f"SELECT mn, cn, wire_code, toUnixTimestamp(data_time), {cols}, flag, "
                      "eflag FROM readings FINAL")
    return {(r[0], r[1], r[2], r[3],
             *(None if math.isnan(v) else v for v in r[4:4 + len(VALUE_COLUMNS)]),
             *r[4 + len(VALUE_COLUMNS):]) for r in rows}


def test_readings_written_and_read_back_equal(migrated):
    # real-time data only, one frame per station per 30 s: every (mn, cn, code, time) is
    # unique, so what comes back must be exactly what went in
    corpus = Corpus(11, stations=40, cns={2011: 1.0}, step_s=30.0, resend_rate=0.0)
    frames = corpus.frames(2_000)
    batch = hj212.decode_batch(frames)
    assert batch.n_rejected == 0
    with ClickHouse(migrated) as ch:
        ch.execute("TRUNCATE TABLE readings")
        ch.execute("TRUNCATE TABLE frames")
        result = FrameSink(ch).write(frames, time.time(), "gw-it", "127.0.0.1:1", batch=batch)
        assert (result.frames, result.readings) == (2_000, batch.n_rows)
        assert _stored_rows(ch) == _expected_rows(batch)
        # 2005 short codes are stored under their 2017 code too
        mapped = ch.execute("SELECT count() FROM readings WHERE edition = 2005 "
                            "AND code != wire_code")[0][0]
        old = ch.execute("SELECT count() FROM readings WHERE edition = 2005")[0][0]
        assert old > 0 and mapped == old
        # data time is the logger's CST clock, stored as such
        first = frames[0].decode()
        stamp = first.split("DataTime=")[1][:14]
        want = datetime.strptime(stamp, "%Y%m%d%H%M%S")
        mn = first.split("MN=")[1].split(";")[0]
        got = ch.execute("SELECT min(toString(data_time)) FROM readings WHERE mn = %(mn)s",
                         {"mn": mn})[0][0]
        assert got == want.strftime("%Y-%m-%d %H:%M:%S")


def test_batches_queued_together_go_in_as_one_block_each(migrated):
    # what the worker does when ClickHouse is slower than detection: three batches (and
    # a missing-data window updated twice) queued, then one flush
    corpus = Corpus(15, stations=40, cns={2011: 1.0}, step_s=30.0, resend_rate=0.0)
    chunks = [corpus.frames(n) for n in (700, 1_200, 300)]
    batches = [hj212.decode_batch(c) for c in chunks]
    window = {"mn": "W1", "cn": 2011, "window_start": datetime(2024, 3, 1, 8),
              "window_end": datetime(2024, 3, 1, 9), "state": "open", "expected": 120,
              "received": 0, "requests": 0, "last_request_qn": "", "last_request_at": None,
              "detected_at": datetime(2024, 3, 1, 9), "updated_at": datetime(2024, 3, 1, 9)}
    with ClickHouse(migrated) as ch:
        for table in ("readings", "frames", "missing_windows"):
            ch.execute(f"TRUNCATE TABLE {table}")
            ch.execute(f"SYSTEM STOP MERGES {table}")
        try:
            queue = StoreQueue(FrameSink(ch), AlarmSink(ch), MissingSink(ch))
            for i, (raws, batch) in enumerate(zip(chunks, batches, strict=True)):
                received = np.full(len(raws), int(time.time()) - 10 + i, dtype=np.int64)
                queue.add_frames(raws, received, f"gw-{i}", "127.0.0.1:5", batch)
                queue.add_events([], [{**window, "received": 40 * i,
                                       "state": "open" if i < 2 else "partly_filled"}])
            assert queue.backlog == 2_200
            asyncio.run(queue.flush(None))
            assert queue.backlog == 0
            asyncio.run(queue.flush(None))  # nothing left: no empty insert
            assert queue.stats["inserts"] == 1
            assert queue.stats["frames"] == 2_200
            assert _stored_rows(ch) == set().union(*(_expected_rows(b) for b in batches))
            parts = dict(ch.execute("SELECT table, count() FROM system.parts WHERE active "
                                    "AND database = currentDatabase() GROUP BY table"))
            assert parts["frames"] == 1  # one month of receive times, one insert
            assert parts["missing_windows"] == 1
            gateways = ch.execute("SELECT gateway, count() FROM frames GROUP BY gateway "
                                  "ORDER BY gateway")
            assert gateways == [("gw-0", 700), ("gw-1", 1_200), ("gw-2", 300)]
            # the window's rows share the flush's version: only its last state went in
            assert ch.execute("SELECT state, received FROM missing_windows") == [
                ("partly_filled", 80)]
        finally:
            for table in ("readings", "frames", "missing_windows"):
                ch.execute(f"SYSTEM START MERGES {table}")


def test_a_store_job_whose_rows_an_earlier_flush_took_writes_nothing(migrated):
    # the worker chains a job per batch; during a slow insert batches pile up, and the
    # first job to run takes them all. The jobs of those batches must then be no-ops, or
    # each flushes what arrived since (waiting the interval first) and the jobs, with the
    # offsets they release, fall ever further behind the rows.
    corpus = Corpus(16, stations=20, cns={2011: 1.0}, step_s=30.0, resend_rate=0.0)
    a, b, c = (corpus.frames(n) for n in (200, 300, 400))
    with ClickHouse(migrated) as ch:
        queue = StoreQueue(FrameSink(ch), AlarmSink(ch), MissingSink(ch))

        def add(raws: list[bytes]) -> Any:
            received = np.full(len(raws), int(time.time()), dtype=np.int64)
            queue.add_frames(raws, received, "gw", "127.0.0.1:6", hj212.decode_batch(raws))
            return queue.job()

        job_a, job_b = add(a), add(b)
        asyncio.run(job_a(None))  # takes a and b
        job_c = add(c)
        asyncio.run(job_b(None))  # b is in: nothing to do, c waits for its own job
        assert (queue.stats["inserts"], queue.backlog) == (1, 400)
        asyncio.run(job_c(None))
        assert (queue.stats["inserts"], queue.backlog, queue.stats["frames"]) == (2, 0, 900)


def test_a_replayed_batch_leaves_no_duplicate(migrated):
    corpus = Corpus(12, stations=30, error_rate=0.05, resend_rate=0.2)
    frames = corpus.frames(3_000)
    received = time.time()
    with ClickHouse(migrated) as ch:
        ch.execute("TRUNCATE TABLE readings")
        ch.execute("TRUNCATE TABLE frames")
        sink = FrameSink(ch)
        first = sink.write(frames, received, "gw-it", "127.0.0.1:2")
        keys = ch.execute("SELECT uniqExact(mn, cn, code, data_time) FROM readings")[0][0]
        frame_keys = ch.execute("SELECT uniqExact(mn, cn, qn, raw_hash) FROM frames")[0][0]
        # a Kafka redelivery of the whole batch, then the first half again
        sink.write(frames, received, "gw-it", "127.0.0.1:2")
        sink.write(frames[:1500], received, "gw-it", "127.0.0.1:2")
        assert ch.execute("SELECT count() FROM readings")[0][0] > first.readings
        assert ch.execute("SELECT count() FROM readings FINAL")[0][0] == keys
        assert ch.execute("SELECT count() FROM frames FINAL")[0][0] == frame_keys
        ch.execute("OPTIMIZE TABLE readings FINAL")
        ch.execute("OPTIMIZE TABLE frames FINAL")
        assert ch.execute("SELECT count() FROM readings")[0][0] == keys
        assert ch.execute("SELECT count() FROM frames")[0][0] == frame_keys


def test_rejected_frames_are_kept_with_reason_and_raw_bytes(migrated):
    corpus = Corpus(13, stations=20, error_rate=0.5)
    frames = corpus.frames(400)
    batch = hj212.decode_batch(frames)
    with ClickHouse(migrated) as ch:
        ch.execute("TRUNCATE TABLE frames")
        FrameSink(ch).write(frames, time.time(), "gw-it", "127.0.0.1:3", batch=batch)
        rows = ch.execute("SELECT hex(raw), status, error_kind, error_field FROM frames FINAL")
        stored = {r[0].lower(): r[1:] for r in rows}
        for i, raw in enumerate(frames):
            status, kind, _field = stored[raw.hex()]
            assert status == ("rejected" if batch.status[i] else "accepted")
            assert kind == (batch.error_kind(i) or "")
        by_kind = queries.rejects_by_reason(ch, datetime(2000, 1, 1), datetime(2100, 1, 1))
        assert sum(r["frames"] for r in by_kind) == len({f for i, f in enumerate(frames)
                                                          if batch.status[i]})


def test_named_queries(migrated):
    corpus = Corpus(14, stations=5, resend_rate=0.0)
    frames = corpus.frames(500)
    with ClickHouse(migrated) as ch:
        ch.execute("TRUNCATE TABLE readings")
        ch.execute("TRUNCATE TABLE frames")
        FrameSink(ch).write(frames, time.time(), "gw-it", "127.0.0.1:4")
        latest = queries.latest_frame_per_station(ch)
        assert {r["mn"] for r in latest} == {s.mn for s in corpus.stations
                                              if any(s.mn.encode() in f for f in frames)}
        mn = latest[0]["mn"]
        rows = queries.station_readings(ch, mn, datetime(2024, 1, 1), datetime(2025, 1, 1))
        assert rows and all(r["data_time"].year == 2024 for r in rows)
        only_rt = queries.station_readings(ch, mn, datetime(2024, 1, 1), datetime(2025, 1, 1),
                                           cn=2011)
        assert {r["cn"] for r in only_rt} <= {2011} and len(only_rt) <= len(rows)
        empty = queries.station_readings(ch, mn, datetime(2030, 1, 1), datetime(2030, 1, 2))
        assert empty == []
        hourly = queries.run(ch, "hourly_means", mn=mn, start=datetime(2024, 1, 1),
                             end=datetime(2025, 1, 1))
        assert hourly and all(r["records"] >= 1 for r in hourly)


def test_sink_throughput(migrated, capsys):
    corpus = Corpus(15, stations=500, resend_rate=0.0)
    frames = corpus.frames(30_000)
    batch = hj212.decode_batch(frames)
    with ClickHouse(migrated) as ch:
        sink = FrameSink(ch)
        result = sink.write(frames, np.full(len(frames), time.time()), "gw-it", "p",
                            batch=batch)
    with capsys.disabled():
        print(f"\n[store] sink: {result.frames} frames, {result.readings} readings in "
              f"{result.seconds:.2f} s = {result.readings_per_s:,.0f} readings/s "
              "(frames and readings tables, decode excluded)")
    assert result.readings == batch.n_rows
