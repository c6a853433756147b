"""The service records' read path on the local ClickHouse: how long a list page, the
quality page and a service-watch round take as the ledger grows.

A scratch database gets ``--orders`` work orders of a busy month's shape (open, assign,
contact, respond, arrive for a third, resolve, verify, close for most, a note on some),
one return visit per closed order and a complaint per hundred, as ``ledger_events`` rows
written directly (the writer's own path is measured by the ledger's benchmark). Then,
``--runs`` times each: ``Records.all`` of the work orders (what the work-orders page and
the watch read), the quality page's facts and a month's figures
(``admin.quality_facts``), one record's history (a record page), and the service watch's
SLA pass (reading every order and computing its marks; appending is the ledger's). Nothing asserts a
timing: the numbers go to benchmarks/results/records.json and .md.

    .venv/bin/python benchmarks/records.py [--orders 20000] [--runs 5] [--keep]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from admin import quality_facts  # noqa: E402
from admin import work_orders as wo  # noqa: E402
from admin.records import TYPES, RecordCache, Records  # noqa: E402
from admin.service_settings import load  # noqa: E402
from pipeline.config import load_settings  # noqa: E402
from pipeline.ledger import queries as lq  # noqa: E402
from pipeline.ledger.codec import event_columns  # noqa: E402
from pipeline.ledger.model import Event, Reply  # noqa: E402
from pipeline.store.client import ClickHouse  # noqa: E402
from pipeline.store.migrate import Migrator  # noqa: E402

REGIONS = ("辽吉黑蒙", "京津冀鲁", "晋豫陕", "宁青甘新", "云贵川渝", "粤桂湘琼鄂", "浙闽赣",
           "苏皖沪")
MONTH_START = datetime(2026, 11, 1)


class ReadOnly:
    """A ledger that takes nothing: a steady-state round must not write."""

    def submit(self, change: Any, wait_s: float | None = None) -> Reply:
        raise RuntimeError(f"unexpected change {change.kind} on {change.record_id}")


def _events(n: int) -> list[Event]:
    out: list[Event] = []
    for k in range(n):
        rid = f"WO-BENCH-{k:06d}"
        t = MONTH_START + timedelta(minutes=(k * 29) % (29 * 24 * 60))
        region = REGIONS[k % len(REGIONS)]
        eng = f"eng.{k % 40:02d}"
        seq = 0

        def add(kind: str, at: datetime, payload: dict[str, Any], actor: str = eng,
                rid: str = rid) -> None:
            nonlocal seq
            seq += 1
            out.append(Event("work_order", rid, seq, uuid.uuid4().hex, kind, actor, at,
                             payload, "bench"))

        add(wo.OPEN, t, {"source": "phone", "class": "technical_service", "caller": "c",
                         "contact": "1", "organisation": f"企业{k % 500}",
                         "station": f"MN{k % 2000:05d}", "reason": "数据缺失",
                         "region": region, "stops_system": k % 3 == 0}, "duty.op")
        add(wo.ASSIGN, t + timedelta(minutes=1), {"engineer": eng}, "duty.op")
        add(wo.CONTACT, t + timedelta(minutes=5 + k % 20), {})
        add(wo.RESPOND, t + timedelta(minutes=30 + k % 50), {})
        if k % 3 == 0:
            add(wo.ARRIVE, t + timedelta(minutes=120 + k % 120), {})
        if k % 10:
            report = {"report": "SR-1"} if k % 3 == 0 else {}
            add(wo.RESOLVE, t + timedelta(hours=5), {"cause": "c", "action": "a",
                                                     "result": "r", **report})
            add(wo.VERIFY, t + timedelta(hours=6), {"verification": "v"}, "duty.op")
            add(wo.CLOSE, t + timedelta(hours=6, minutes=5), {}, "duty.op")
        else:
            add(wo.NOTE, t + timedelta(hours=8), {"text": "备件在途"})
    return out


def _visits(n: int) -> list[Event]:
    out = []
    for k in range(n):
        if not k % 10:
            continue
        rid = f"RV-WO-WO-BENCH-{k:06d}"
        t = MONTH_START + timedelta(minutes=(k * 29) % (29 * 24 * 60), hours=7)
        due = (t + timedelta(days=7)).date().isoformat()
        out.append(Event("visit", rid, 1, uuid.uuid4().hex, "plan", "system:planner", t,
                         {"reason": "work_order", "work_order_id": f"WO-BENCH-{k:06d}",
                          "enterprise": f"企业{k % 500}", "region": REGIONS[k % 8],
                          "due": due, "engineer": f"eng.{k % 40:02d}"}, "bench"))
        if k % 4:
            out.append(Event("visit", rid, 2, uuid.uuid4().hex, "record", "duty.op",
                             t + timedelta(days=2), {"channel": "phone", "contact": "王工",
                                                     "satisfaction": 3 + k % 3,
                                                     "suggestions": ""}, "bench"))
    return out


def _time(fn: Any, runs: int) -> dict[str, float]:
    took = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        took.append(time.perf_counter() - t0)
    return {"p50_s": round(statistics.median(took), 3), "max_s": round(max(took), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    settings = load_settings()
    db = f"hj212_bench_records_{uuid.uuid4().hex[:6]}"
    parts = urlsplit(settings.clickhouse.dsn)
    dsn = urlunsplit(parts._replace(path=f"/{db}"))
    Migrator(dsn).migrate()
    ch = ClickHouse(dsn)
    try:
        events = _events(args.orders) + _visits(args.orders)
        for i in range(0, len(events), 50_000):
            ch.insert_columns("ledger_events", event_columns(events[i:i + 50_000]))
        records = Records(ReadOnly(), ch, load(), hooks={},
                          clock=lambda: datetime(2026, 11, 30, 12))
        now = datetime(2026, 11, 30, 12)
        orders = TYPES["orders"]
        n_orders = len(records.all(orders))
        results = {
            "orders": n_orders, "events": len(events),
            "list_work_orders": _time(lambda: records.all(orders), args.runs),
            "one_history": _time(lambda: lq.history(ch, "work_order", "WO-BENCH-000123"),
                                 args.runs),
            "quality_facts": _time(lambda: quality_facts.load_facts(records, now), args.runs),
            "quality_month_by_region": _time(
                lambda: quality_facts.month_figures(records, "2026-11", "region", now),
                args.runs),
            "watch_round_steady": None,
        }
        # a page process's re-read: the shared cache reads only what was appended since
        # (ten new events between reads)
        cached = Records(ReadOnly(), ch, load(), hooks={}, cache=RecordCache(),
                         clock=lambda: now)
        results["list_work_orders_first_cached"] = _time(lambda: cached.all(orders), 1)
        extra = iter(range(10**6))

        def reread() -> None:
            k = next(extra)
            ch.insert_columns("ledger_events", event_columns([Event(
                "work_order", f"WO-BENCH-{k:06d}", 100 + k, uuid.uuid4().hex, wo.NOTE,
                "eng.00", now, {"text": "x"}, "bench") for _ in range(1)]))
            cached.all(orders)

        results["list_work_orders_cached_reread"] = _time(reread, args.runs)
        results["quality_facts_cached_reread"] = _time(
            lambda: quality_facts.load_facts(cached, now), args.runs)
        # the steady state: every mark and visit already recorded would mean no writes;
        # here the bench's orders are old, so marks are due: time the reading part only
        results["watch_round_steady"] = _time(
            lambda: [wo.sla_marks_due(s, now, records.service.sla)
                     for s in records.all(orders)], args.runs)
        results["machine"] = f"{platform.machine()} {platform.python_version()}"
        out = ROOT / "benchmarks" / "results"
        (out / "records.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
        lines = ["| what | p50 s | max s |", "|---|---|---|"]
        for key, value in results.items():
            if isinstance(value, dict):
                lines.append(f"| {key} | {value['p50_s']} | {value['max_s']} |")
        text = (f"{n_orders} work orders, {len(events)} ledger events\n\n"
                + "\n".join(lines) + "\n")
        (out / "records.md").write_text(text)
        print(text)
    finally:
        if not args.keep:
            ch.execute(f"DROP DATABASE IF EXISTS {db}")
        ch.close()


if __name__ == "__main__":
    main()
