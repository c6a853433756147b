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

from admin import subscriptions as sub
from admin import visits as vi
from admin import work_orders as wo
from admin.records import TYPES, RecordCache, Records
from pipeline.cli_context import CONTEXT, CliContext, pass_cli
from pipeline.ledger.log import LazyLog
from pipeline.store.client import StoreError
from pipeline.timebase import now_local

log = LazyLog("service.watch")

SLA_ACTOR = "system:sla"
PLANNER_ACTOR = "system:planner"
REMINDER_ACTOR = "system:reminders"


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
            seq = records.system_chain(
                rtype, state.record_id, seq,
                [(wo.NOTIFY, {"receiver": receiver, "text": text, "station": state.station})
                 for receiver in records.service.sla_notify],
                actor=SLA_ACTOR, source="service-watch")


def closed_orders(records: Records) -> list[vi.ClosedOrder]:
    out = []
    for s in records.all(TYPES["orders"]):
        if s.state == wo.CLOSED and s.closed_at is not None:
            out.append(vi.ClosedOrder(s.record_id, s.closed_at, s.region, s.organisation,
                                      s.engineer))
    return out


def contracts(records: Records) -> list[vi.ContractRef]:
    """The operations contracts owing quarterly visits: the 365 subscriptions opened."""
    out = []
    for s in records.all(TYPES["subscriptions"]):
        if s.service_opened_at is not None and s.state != sub.LAPSED \
                and s.start is not None and s.end is not None and s.contract_no:
            out.append(vi.ContractRef(s.record_id, s.contract_no, s.region, s.start, s.end))
    return out


def visits_round(records: Records, now: datetime, stats: RoundStats) -> None:
    """Plan each return visit that has fallen due and is not planned yet (a closed work
    order: within 7 days; an operations contract: each quarter), under its stable id."""
    rtype = TYPES["visits"]
    visits = records.all(rtype)
    for due in vi.visits_due(closed_orders(records), contracts(records), visits,
                             now.date(), records.service.visits):
        if due.covered_by or any(v.record_id == due.key and v.opened for v in visits):
            continue
        reply = records.system_act(rtype, due.key, vi.PLAN, 0, vi.plan_payload(due),
                                   actor=PLANNER_ACTOR, source="service-watch")
        if reply.ok:
            stats.add("visit_planned")
        else:
            stats.refused += 1
            log.info("visit.not_planned", visit_id=due.key, outcome=reply.outcome,
                     message=reply.message)


def reminders_round(records: Records, now: datetime, stats: RoundStats) -> None:
    """Record each renewal reminder due today once (a note keyed by the reminder), each
    with a notice to the receivers of ``[subscriptions] remind_notify``."""
    rtype = TYPES["subscriptions"]
    states = {s.record_id: s for s in records.all(rtype)}
    for r in sub.renewal_reminders(states.values(), now.date(),
                                   records.service.subscriptions):
        state = states[r.enterprise]
        marker = f"续约提醒 renewal reminder [{r.key}]"
        if any(marker in n.text for n in state.notes):
            continue
        text = (f"{marker}: {r.enterprise} 的{'试用' if r.trial else ''}365服务合同 "
                f"{r.contract_no} 将于 {r.end} 到期（还有 {r.days_before} 天）；"
                f"销售 {r.sales or '-'}，请联系续约 / the 365 service ends on {r.end}: "
                "renew the contract")
        reply = records.system_act(rtype, r.enterprise, sub.NOTE, state.last_seq,
                                   {"text": text}, actor=REMINDER_ACTOR,
                                   source="service-watch")
        if not reply.ok:
            stats.refused += 1
            continue
        stats.add("renewal_reminder")
        station = state.stations[0] if state.stations else ""
        records.system_chain(
            rtype, r.enterprise, reply.seq,
            [(sub.NOTIFY, {"receiver": receiver, "text": text, "station": station})
             for receiver in records.service.subscriptions.remind_notify],
            actor=REMINDER_ACTOR, source="service-watch")


#: the rounds, in order (name, function)
TASKS: list[tuple[str, Callable[[Records, datetime, RoundStats], None]]] = [
    ("sla", sla_round),
    ("visits", visits_round),
    ("reminders", reminders_round),
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
            records = Records(ledger, ch, service, cache=RecordCache())
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
