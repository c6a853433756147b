"""``hj212 alarms``: the duty centre's alarm actions from the command line (告警处置).

Joined to ``hj212`` through the entry-point group ``hj212.commands`` (pyproject.toml).
The command acts as the web-app account named like the OS user who runs it (``hj212
users add <os user> --role duty_operator``), with the same role and region checks as the
duty desk page (admin/duty_actions.py), and is audited with the source "cli".

An action reads the alarm's last event number and submits the change expecting it, so a
conflict means someone else acted in between: look again with ``show`` and retry.
Outcomes: appended (exit 0), queued (the ledger writer has not answered within the wait;
exit 0, the change stays queued), conflict or refused (exit 1, with the reason).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import click

from admin import duty_actions
from admin.accounts import Accounts, User
from admin.cli import format_table, os_user
from admin.roles import SERVICE_REGIONS, AccountError, PermissionDenied
from pipeline.cli_context import CONTEXT, CliContext, pass_cli
from pipeline.detect.rules import SEVERITIES
from pipeline.duty import alarms as alarm_store
from pipeline.duty import lifecycle as lc
from pipeline.duty import silences as sil
from pipeline.duty.sla import format_left, response_clock
from pipeline.ledger import queries as ledger_queries
from pipeline.ledger.client import LedgerClient, LedgerError
from pipeline.ledger.model import APPENDED, PENDING
from pipeline.store.client import ClickHouse, StoreError
from pipeline.timebase import now_local

#: the audit log's source and the change's source for actions taken here
CLI_SOURCE = "cli"

_STATES = (lc.ACTIVE, lc.CLEARED, *lc.PHASES)


@contextmanager
def _session(cli: CliContext) -> Iterator[tuple[ClickHouse, User]]:
    """A connection and the account of the OS user; errors as ClickExceptions."""
    try:
        with ClickHouse(cli.dsn) as ch:
            name = os_user()
            user = Accounts(ch, cli.settings).get(name)
            if user is None:
                raise click.ClickException(
                    f"the OS user {name!r} has no account of the web app, so `hj212 alarms` "
                    f"cannot say who acts; fix: an admin runs `hj212 users add {name} "
                    "--role duty_operator` (or the role you need)")
            if not user.active:
                raise click.ClickException(f"the account {name!r} is disabled; fix: ask an "
                                           "admin (管理员) to enable it")
            yield ch, user
    except (StoreError, AccountError, PermissionDenied, sil.SilenceError) as exc:
        raise click.ClickException(str(exc)) from None


@click.group(context_settings=CONTEXT)
def alarms() -> None:
    """Alarms of the duty centre (告警): list, show, acknowledge, assign, comment, notify,
    dispatch, resolve, close, reopen, and silences.

    You act as the web-app account named like your OS user, with its roles and regions;
    every action is audited with the source "cli".
    """


# --- reading ----------------------------------------------------------------------------


def _age(since: datetime, now: datetime) -> str:
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes >= 1440:
        return f"{minutes // 1440}d{(minutes % 1440) // 60:02d}h"
    if minutes >= 60:
        return f"{minutes // 60}h{minutes % 60:02d}m"
    return f"{minutes}m"


def _priority(row: Mapping[str, Any]) -> tuple[int, int, float]:
    """Unacknowledged first, then by severity (critical first), then newest first."""
    st: lc.AlarmState = row["_state"]
    sev = row["severity"]
    rank = SEVERITIES.index(sev) if sev in SEVERITIES else 1
    return (0 if st.phase == lc.UNACKNOWLEDGED else 1, -rank,
            -row["opened_at"].timestamp())


@alarms.command("list", context_settings=CONTEXT)
@click.option("--region", type=click.Choice(SERVICE_REGIONS), default=None,
              help="Only stations of this service region (服务区域).")
@click.option("--severity", type=click.Choice(SEVERITIES), default=None)
@click.option("--rule", default=None, help="Only this rule (offline, missing_data ...).")
@click.option("--state", type=click.Choice(_STATES), default=None,
              help="The detector's state (active, cleared) or the people's (unacknowledged "
                   "... closed).")
@click.option("--unacked", is_flag=True, help="Only unacknowledged alarms (未确认).")
@click.option("--days", type=click.IntRange(1, 366), default=7, show_default=True,
              help="Alarms opened in the last DAYS days, and every one still active.")
@click.option("--all", "show_all", is_flag=True, help="Closed alarms too.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=200, show_default=True)
@pass_cli
def list_alarms(cli: CliContext, region: str | None, severity: str | None,
                rule: str | None, state: str | None, unacked: bool, days: int,
                show_all: bool, limit: int) -> None:
    """Alarms you may see, unacknowledged and critical first, with age and how long until
    the acknowledgement is due (SLA)."""
    now = now_local()
    detector = {lc.ACTIVE: "open", lc.CLEARED: "cleared"}.get(state or "", "")
    with _session(cli) as (ch, user):
        rows = alarm_store.find(ch, since=now - timedelta(days=days), region=region or "",
                                severity=severity or "", rule=rule or "",
                                detector_state=detector, limit=limit * 4)
        rows = [r for r in rows if user.sees_region(r["region"])]
        events = ledger_queries.histories(ch, lc.STREAM, [r["alarm_id"] for r in rows])
        silences = sil.active(ch, now)
    shown = []
    for r in rows:
        st = lc.derive(r, events.get(r["alarm_id"], []), silences=silences, at=now)
        r["_state"] = st
        if unacked and st.phase != lc.UNACKNOWLEDGED:
            continue
        if state in lc.PHASES and st.phase != state:
            continue
        if st.phase == lc.CLOSED and not show_all and state != lc.CLOSED:
            continue
        shown.append(r)
    shown.sort(key=_priority)
    shown = shown[:limit]
    if not shown:
        click.echo("no alarms match (没有符合条件的告警)")
        return
    table = []
    for r in shown:
        st = r["_state"]
        clock = response_clock(r["severity"], r["opened_at"], st.first_acknowledged_at, now)
        table.append([r["alarm_id"], r["severity"], st.detector, st.phase
                      + (" (silenced)" if st.silenced else ""), r["region"] or "-",
                      r["enterprise"] or "-", _age(r["opened_at"], now), format_left(clock),
                      st.assignee or "-"])
    click.echo(format_table(["alarm 告警", "severity", "detector", "people 处置", "region",
                             "enterprise", "age", "SLA", "assignee"], table))


@alarms.command(context_settings=CONTEXT)
@click.argument("alarm_id")
@pass_cli
def show(cli: CliContext, alarm_id: str) -> None:
    """One alarm: its episode, evidence, state on both axes, and full history."""
    now = now_local()
    with _session(cli) as (ch, user):
        row = alarm_store.get(ch, alarm_id)
        if row is None:
            raise click.ClickException(f"alarm {alarm_id!r} does not exist; fix: copy the id "
                                       "from `hj212 alarms list`")
        if not user.sees_region(row["region"]):
            raise click.ClickException(f"alarm {alarm_id} is of region {row['region']!r}, "
                                       f"which user {user.username!r} may not see")
        history = ledger_queries.history(ch, lc.STREAM, alarm_id)
        silences = sil.active(ch, now)
    st = lc.derive(row, history, silences=silences, at=now)
    clock = response_clock(row["severity"], row["opened_at"], st.first_acknowledged_at, now)
    lines = [
        f"alarm 告警       {alarm_id}",
        f"station 站点     {row['mn']}  {row['enterprise'] or '-'} {row['outlet'] or ''}"
        f"  region {row['region'] or '-'}",
        f"rule 规则        {row['rule']}  code {row['code'] or '-'}  severity "
        f"{row['severity']}",
        f"detector 检测    {st.detector}  opened {row['opened_at']:%Y-%m-%d %H:%M:%S}  last "
        f"seen {row['last_seen']:%Y-%m-%d %H:%M:%S}"
        + (f"  cleared {row['cleared_at']:%Y-%m-%d %H:%M:%S}" if row["cleared_at"] else ""),
        f"people 处置      {lc.PHASE_LABELS[st.phase]}"
        + (f"  acked by {st.acknowledged_by}" if st.acknowledged else "")
        + (f"  assignee {st.assignee}" if st.assignee else "")
        + (f"  work order {st.dispatched} ({st.dispatched_to})" if st.dispatched else "")
        + (f"  resolved by {st.resolved_by}" if st.resolved else "")
        + (f"  closed by {st.closed_by}" if st.closed else ""),
        f"SLA 响应时限      due {clock.due_at:%Y-%m-%d %H:%M}  {format_left(clock)}",
        f"silenced 静默    {', '.join(st.silenced_by) if st.silenced else 'no'}",
        f"message         {row['message']}",
        f"evidence 证据    {json.dumps(row['evidence'], ensure_ascii=False, sort_keys=True)}",
        f"last seq        {st.last_seq}",
        "",
        "history 处置记录:",
    ]
    click.echo("\n".join(lines))
    if not history:
        click.echo("  (none yet)")
        return
    click.echo(format_table(
        ["seq", "time 时间", "who 操作人", "action 操作", "detail", "source"],
        [[str(e.seq), f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor,
          lc.KIND_LABELS.get(e.kind, e.kind),
          json.dumps(dict(e.payload), ensure_ascii=False, sort_keys=True), e.source]
         for e in history]))


# --- actions ----------------------------------------------------------------------------


def _act(cli: CliContext, alarm_id: str, kind: str, payload: Mapping[str, Any]) -> None:
    with _session(cli) as (ch, user), LedgerClient(cli.settings) as ledger:
        seq = ledger_queries.last_seq(ch, lc.STREAM, alarm_id)
        orders = None
        if kind == lc.DISPATCH:
            # a dispatch opens the real work order (routed to the roster when no
            # engineer is named)
            from admin.order_hooks import LedgerWorkOrders
            from admin.records import Records
            from admin.service_settings import ServiceSettingsError, from_settings

            try:
                orders = LedgerWorkOrders(Records(ledger, ch, from_settings(cli.settings)))
            except ServiceSettingsError as exc:
                raise click.ClickException(str(exc)) from None
        try:
            reply = duty_actions.perform(ledger, ch, user, alarm_id, kind, seq, payload,
                                         CLI_SOURCE, work_orders=orders)
        except LedgerError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{lc.KIND_LABELS[kind]} {alarm_id}: {duty_actions.outcome_text(reply)}")
    if reply.outcome not in (APPENDED, PENDING):
        sys.exit(1)


@alarms.command(context_settings=CONTEXT)
@click.argument("alarm_id")
@pass_cli
def ack(cli: CliContext, alarm_id: str) -> None:
    """Acknowledge ALARM_ID (确认): you are looking at it."""
    _act(cli, alarm_id, lc.ACK, {})


@alarms.command(context_settings=CONTEXT)
@click.argument("alarm_id")
@pass_cli
def unack(cli: CliContext, alarm_id: str) -> None:
    """Take back an acknowledgement made by mistake (取消确认)."""
    _act(cli, alarm_id, lc.UNACK, {})


@alarms.command(context_settings=CONTEXT)
@click.argument("alarm_id")
@click.argument("assignee")
@pass_cli
def assign(cli: CliContext, alarm_id: str, assignee: str) -> None:
    """Assign ALARM_ID to the user ASSIGNEE (指派)."""
    _act(cli, alarm_id, lc.ASSIGN, {"assignee": assignee})


@alarms.command(context_settings=CONTEXT)
@click.argument("alarm_id")
@click.argument("text")
@pass_cli
def comment(cli: CliContext, alarm_id: str, text: str) -> None:
    """Add the note TEXT to ALARM_ID (备注)."""
    _act(cli, alarm_id, lc.COMMENT, {"text": text})


@alarms.command(context_settings=CONTEXT)
@click.argument("alarm_id")
@click.option("--channel", type=click.Choice(lc.CHANNELS), required=True,
              help="How the enterprise was told.")
@click.option("--recipient", default="", help="The enterprise's contact (e.g. 王工 138...).")
@click.option("--receiver", default="", help="The notify receiver it went through, if any.")
@click.option("--text", required=True, help="What the enterprise was told.")
@pass_cli
def notify(cli: CliContext, alarm_id: str, channel: str, recipient: str, receiver: str,
           text: str) -> None:
    """Record that the enterprise was told about ALARM_ID (通知企业)."""
    _act(cli, alarm_id, lc.NOTIFY, {"channel": channel, "recipient": recipient,
                                    "receiver": receiver, "text": text})


@alarms.command(context_settings=CONTEXT)
@click.argument("alarm_id")
@click.option("--engineer", default="",
              help="The resident engineer's user name (default: the region's roster in "
                   "the service settings file picks one).")
@click.option("--region", type=click.Choice(SERVICE_REGIONS), default=None,
              help="The engineer's region (default: the station's).")
@click.option("--work-order", "work_order_id", default="",
              help="An existing work order id (default: a new one is made).")
@pass_cli
def dispatch(cli: CliContext, alarm_id: str, engineer: str, region: str | None,
             work_order_id: str) -> None:
    """Dispatch ALARM_ID to the region's engineer with a work order (派单)."""
    payload: dict[str, Any] = {"engineer": engineer} if engineer else {}
    if region:
        payload["region"] = region
    if work_order_id:
        payload["work_order_id"] = work_order_id
    _act(cli, alarm_id, lc.DISPATCH, payload)


@alarms.command(context_settings=CONTEXT)
@click.argument("alarm_id")
@click.option("--verification", required=True,
              help="How you know the data are back, e.g. 'episode cleared 10:42, minute "
                   "data complete since'.")
@pass_cli
def resolve(cli: CliContext, alarm_id: str, verification: str) -> None:
    """Mark ALARM_ID resolved (处理完成), saying how the data were verified."""
    _act(cli, alarm_id, lc.RESOLVE, {"verification": verification})


@alarms.command(context_settings=CONTEXT)
@click.argument("alarm_id")
@pass_cli
def close(cli: CliContext, alarm_id: str) -> None:
    """Close a resolved ALARM_ID (关闭; duty supervisor)."""
    _act(cli, alarm_id, lc.CLOSE, {})


@alarms.command(context_settings=CONTEXT)
@click.argument("alarm_id")
@click.option("--reason", required=True, help="Why it is reopened.")
@pass_cli
def reopen(cli: CliContext, alarm_id: str, reason: str) -> None:
    """Reopen a resolved or closed ALARM_ID (重新打开; duty supervisor)."""
    _act(cli, alarm_id, lc.REOPEN, {"reason": reason})


# --- silences ---------------------------------------------------------------------------


def parse_span(text: str) -> timedelta:
    """``90m``, ``2h``, ``1d``, ``1d12h`` as a timedelta; BadParameter otherwise."""
    import re

    m = re.fullmatch(r"\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*", text)
    if not m or not any(m.groups()):
        raise click.BadParameter(f"{text!r} is not a duration; fix: e.g. 90m, 2h, 1d12h")
    d, h, mi = (int(g) if g else 0 for g in m.groups())
    return timedelta(days=d, hours=h, minutes=mi)


_TIME_FORMATS = ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"]


@alarms.command(context_settings=CONTEXT)
@click.option("--mn", default="", help="Only this station.")
@click.option("--code", default="", help="Only this pollutant code (e.g. w01018).")
@click.option("--rule", default="", help="Only this rule.")
@click.option("--region", type=click.Choice(("", *SERVICE_REGIONS)), default="",
              help="Only stations of this service region.")
@click.option("--from", "starts_at", type=click.DateTime(_TIME_FORMATS), default=None,
              help="Start, China Standard Time (default: now).")
@click.option("--to", "ends_at", type=click.DateTime(_TIME_FORMATS), default=None,
              help="End, exclusive (or give --for).")
@click.option("--for", "span", default=None, help="Length instead of --to: 90m, 2h, 1d.")
@click.option("--reason", required=True, help="Why, e.g. 'COD analyser calibration'.")
@click.option("--fleet-wide", is_flag=True,
              help="Allow a silence naming no station, code, rule or region (supervisor).")
@pass_cli
def silence(cli: CliContext, mn: str, code: str, rule: str, region: str,
            starts_at: datetime | None, ends_at: datetime | None, span: str | None,
            reason: str, fleet_wide: bool) -> None:
    """Declare a silence or maintenance window (静默): matching alarms are still recorded
    and shown, but not notified."""
    now = now_local()
    start = starts_at or now
    if (ends_at is None) == (span is None):
        raise click.UsageError("give exactly one of --to and --for")
    end = ends_at if ends_at is not None else start + parse_span(span or "")
    with _session(cli) as (ch, user):
        made = duty_actions.silence(ch, user, starts_at=start, ends_at=end, reason=reason,
                                    mn=mn, code=code, rule=rule, region=region,
                                    fleet_wide=fleet_wide, source=CLI_SOURCE, now=now)
    click.echo(f"silenced {made.silence_id}: {made.scope_text()} from "
               f"{made.starts_at:%Y-%m-%d %H:%M} to {made.ends_at:%Y-%m-%d %H:%M}")


@alarms.command(context_settings=CONTEXT)
@click.argument("silence_id")
@pass_cli
def unsilence(cli: CliContext, silence_id: str) -> None:
    """End the silence SILENCE_ID now (取消静默)."""
    with _session(cli) as (ch, user):
        done = duty_actions.unsilence(ch, user, silence_id, source=CLI_SOURCE)
    click.echo(f"ended {done.silence_id} ({done.scope_text()}) at "
               f"{done.cancelled_at:%Y-%m-%d %H:%M:%S}")


@alarms.command("silences", context_settings=CONTEXT)
@click.option("--all", "include_expired", is_flag=True, help="Ended and cancelled too.")
@pass_cli
def list_silences(cli: CliContext, include_expired: bool) -> None:
    """Silences in force or planned (静默列表)."""
    now = now_local()
    with _session(cli) as (ch, _user):
        found = sil.list_(ch, include_expired, at=now)
    if not found:
        click.echo("no silences (没有静默)")
        return

    def status(s: sil.Silence) -> str:
        if s.cancelled_at is not None and s.cancelled_at <= now:
            return f"cancelled by {s.cancelled_by}"
        if s.ends_at <= now:
            return "ended"
        return "in force" if s.starts_at <= now else "planned"

    click.echo(format_table(
        ["silence", "scope", "from", "to", "status", "by", "reason"],
        [[s.silence_id, s.scope_text(), f"{s.starts_at:%Y-%m-%d %H:%M}",
          f"{s.ends_at:%Y-%m-%d %H:%M}", status(s), s.created_by, s.reason]
         for s in found]))
