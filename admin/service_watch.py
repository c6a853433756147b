"""``hj212 service-watch``: the service records' clock (issue 12). Every ``--every``
seconds it records what time alone makes happen, as the system (actor ``system:<task>``)
through the ledger, so it is in each record's history like any person's change:

- SLA marks: a warning on a work-order clock running out, a breach on each clock missed
  (``admin.work_orders.sla_marks_due``), each followed by a notice to the receivers of
  ``[sla] notify`` in the service settings file;
- the tasks other record types register in ``TASKS`` (renewal reminders, visits and
  inspections falling due).

Idempotent: a mark is known by its clock and due time and the rule refuses a second one,
so two watches, or a restart, record each once; a conflict (a person acted in between)
is retried on the next round. Ctrl-C or SIGTERM stops it between rounds.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import click

from admin import work_orders as wo
from admin.records import TYPES, Records
from pipeline.cli_context import CONTEXT, CliContext, pass_cli
from pipeline.ledger.log import LazyLog
from pipeline.store.client import StoreError
from pipeline.timebase import now_local

log = LazyLog("service.watch")

SLA_ACTOR = "system:sla"


@dataclass
class RoundStats:
    made: dict[str, int] = field(default_factory=dict)
    refused: int = 0

    def add(self, what: str, n: int = 1) -> None:
        self.made[what] = self.made.get(what, 0) + n


def sla_round(records: Records, now: datetime, stats: RoundStats) -> None:
    """Record the SLA warnings and breaches due now, each with its notices."""
    rtype = TYPES["orders"]
    limits = records.service.sla
    for state in records.all(rtype):
        seq = state.last_seq
        for clock, due, level in wo.sla_marks_due(state, now, limits):
            reply = records.system_act(rtype, state.record_id, wo.SLA_MARK, seq,
                                       {"clock": clock, "due": due, "level": level},
                                       actor=SLA_ACTOR, source="service-watch")
            if not reply.ok:
                stats.refused += 1
                log.info("sla.mark_not_recorded", work_order_id=state.record_id,
                         outcome=reply.outcome, message=reply.message)
                break  # the record moved: look again next round
            seq = reply.seq
            stats.add(f"sla_{level}")
            label = wo.CLOCK_LABELS.get(clock, clock)
            zh = "即将超时" if level == "warning" else "已超时"
            text = (f"工单 {state.record_id} {label} {zh}（时限 {due}）/ SLA {level}\n"
                    f"站点 {state.station} · {state.organisation} · {state.region}\n"
                    f"工程师 {state.engineer or '-'} · 状态 "
                    f"{wo.STATE_LABELS.get(state.state, state.state)}")
            for receiver in records.service.sla_notify:
                reply = records.system_act(rtype, state.record_id, wo.NOTIFY, seq,
                                           {"receiver": receiver, "text": text,
                                            "station": state.station},
                                           actor=SLA_ACTOR, source="service-watch")
                if not reply.ok:
                    break
                seq = reply.seq


#: the rounds, in order; other record types add theirs (name, function)
TASKS: list[tuple[str, Callable[[Records, datetime, RoundStats], None]]] = [
    ("sla", sla_round),
]


def run_round(records: Records, now: datetime | None = None) -> RoundStats:
    stats = RoundStats()
    at = now or now_local()
    for name, task in TASKS:
        try:
            task(records, at, stats)
        except StoreError as exc:
            log.warning("watch.store_unavailable", task=name, error=str(exc))
    return stats


@click.command("service-watch", context_settings=CONTEXT)
@click.option("--every", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="Seconds between rounds.")
@click.option("--once", is_flag=True, help="One round, then exit (cron, tests).")
@pass_cli
def service_watch(cli: CliContext, every: float, once: bool) -> None:
    """Record SLA warnings and breaches of work orders (with notices to the receivers of
    the service settings file), renewal reminders and due visits and inspections, as
    the system, every --every seconds."""
    settings = cli.settings
    from admin.service_settings import ServiceSettingsError, from_settings
    from pipeline.ledger.client import LedgerClient
    from pipeline.store.client import ClickHouse

    try:
        service = from_settings(settings)
    except ServiceSettingsError as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()
    if not once:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    with LedgerClient(settings) as ledger:
        ch: Any = ClickHouse(settings.clickhouse.dsn)
        try:
            records = Records(ledger, ch, service)
            log.info("watch.started", every_s=every, settings_file=service.where,
                     version=service.version)
            while True:
                stats = run_round(records)
                if stats.made or stats.refused:
                    log.info("watch.round", made=stats.made, refused=stats.refused)
                if once:
                    click.echo(f"made {stats.made or 'nothing'}; refused {stats.refused}")
                    return
                if stop.wait(every):
                    return
        finally:
            ch.close()
