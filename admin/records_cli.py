"""``hj212 orders|subscriptions|inspections|visits|complaints``: the service records
(issue 12) from the command line, one click group per record type, all made by
``records_group`` from the type's module (admin/records.py ``TYPES``).

Joined to ``hj212`` through the entry-point group ``hj212.commands`` (pyproject.toml).
As ``hj212 alarms`` does, a command acts as the web-app account named like the OS user
who runs it, through ``admin.records.Records``: the same role and region checks as the
pages, every attempt audited with the source "cli". Engineers see only their regions'
records.

Every group has ``list``, ``show``, ``new`` (the type's creating verb), ``do`` (any verb,
its form's fields as ``--set key=value``) and ``history``; work orders add ``sla``. A
change expects the record's last event number (read just before, or ``--expect SEQ``
from what you looked at), so a conflict means someone moved the record in between; the
message names who. Outcomes: appended (exit 0), queued (the ledger writer has not
answered within the wait; exit 0, the change stays queued), conflict or refused (exit
1, with the reason).

The type's module is imported when a command runs, not when ``hj212`` starts: a type
whose module is not installed yet fails by name, and the other commands still work.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime
from types import ModuleType
from typing import Any, Final

import click

from admin.accounts import Accounts
from admin.cli import format_table, os_user
from admin.duty_actions import LedgerSubmitter, outcome_text
from admin.record_fields import LIST, Field, FieldError, build_payload
from admin.records import TYPES, Records, RecordType
from admin.roles import AccountError, PermissionDenied, User
from admin.service_settings import ServiceSettingsError, from_settings
from pipeline.cli_context import CONTEXT, CliContext, pass_cli
from pipeline.ledger.client import LedgerClient, LedgerError
from pipeline.ledger.model import APPENDED, PENDING, Event, Reply
from pipeline.store.client import ClickHouse, StoreError
from pipeline.timebase import now_local

#: the audit log's source and the change's source for actions taken here
CLI_SOURCE: Final = "cli"

#: what opens the store and the ledger for a command (the tests give chDB and a fake)
StoreOpener = Callable[[CliContext], AbstractContextManager[Any]]
LedgerOpener = Callable[[CliContext], AbstractContextManager[LedgerSubmitter]]

#: derived-state fields naming the person a record is with (``list --mine``)
_PERSON_FIELDS: Final = ("engineer", "assignee", "inspector", "handler", "investigator",
                         "visitor", "owner")
#: derived-state fields saying what a record is about (the list's "about" column)
_ABOUT_FIELDS: Final = ("organisation", "enterprise", "station", "customer", "title",
                        "work_order_id")
_TIME: Final = "%Y-%m-%d %H:%M:%S"


def open_store(cli: CliContext) -> AbstractContextManager[Any]:
    return ClickHouse(cli.dsn)


def open_ledger(cli: CliContext) -> AbstractContextManager[LedgerSubmitter]:
    # LedgerClient connects on the first submit, so reading commands never touch Kafka
    return LedgerClient(cli.settings)


def module_of(rtype: RecordType) -> ModuleType:
    """The type's pure module; a ClickException naming it when it is not there yet."""
    try:
        return rtype.module
    except ModuleNotFoundError as exc:
        if exc.name == rtype.module_name:
            path = rtype.module_name.replace(".", "/") + ".py"
            raise click.ClickException(
                f"{rtype.label}: 记录模块 {rtype.module_name} 尚未安装 / the record module "
                f"{rtype.module_name} ({path}) is not there yet, so `hj212 {rtype.key}` "
                "cannot work; fix: update to a release that has it") from None
        raise click.ClickException(f"{rtype.label}: the record module {rtype.module_name} "
                                   f"cannot be loaded: {exc}") from None
    except ImportError as exc:
        raise click.ClickException(f"{rtype.label}: the record module {rtype.module_name} "
                                   f"cannot be loaded: {exc}") from None


# --- values as text and JSON ------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """A derived state (or part of one) as JSON values: times as ISO text, dataclasses
    as objects (their ``events`` left out: the history is given on its own)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.name != "events"}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def event_json(e: Event) -> dict[str, Any]:
    return {"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "kind": e.kind,
            "payload": jsonable(e.payload), "source": e.source, "request_id": e.request_id}


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime(_TIME)
    if isinstance(value, bool):
        return "是 yes" if value else "否 no"
    if isinstance(value, date | str | int | float):
        return str(value)
    return json.dumps(jsonable(value), ensure_ascii=False, sort_keys=True)


def _first(state: Any, names: Sequence[str]) -> str:
    for name in names:
        value = getattr(state, name, "")
        if isinstance(value, str) and value:
            return value
    return ""


def next_verbs(rtype: RecordType, state: Any) -> tuple[str, ...]:
    """The verbs the record's state may allow (``RecordType.next_kinds``)."""
    return rtype.next_kinds(state)


def is_mine(state: Any, username: str) -> bool:
    """The record is with ``username`` (its engineer, assignee ...) or was opened by
    them."""
    if any(getattr(state, name, None) == username for name in _PERSON_FIELDS):
        return True
    events: Sequence[Event] = getattr(state, "events", ())
    return bool(events) and events[0].actor == username


def parse_sets(values: Sequence[str]) -> dict[str, Any]:
    """``key=value`` pairs (``--set``) as raw form values; a key given twice is a list
    (a LIST field takes it, any other field refuses it in ``form_payload``)."""
    out: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not key=value; fix: e.g. --set "
                                     "reason=分析仪故障", param_hint="--set")
        if key in out:
            prev = out[key]
            out[key] = [*(prev if isinstance(prev, list) else [prev]), value]
        else:
            out[key] = value
    return out


def form_payload(fields: Sequence[Field], raw: Mapping[str, Any]) -> dict[str, Any]:
    """The payload of a form from ``--set`` values; BadParameter names the field."""
    kinds = {f.name: f.kind for f in fields}
    for key, value in raw.items():
        if isinstance(value, list) and kinds.get(key) != LIST:
            raise click.BadParameter(f"{key} is given {len(value)} times; fix: once",
                                     param_hint="--set")
    try:
        return build_payload(fields, raw)
    except FieldError as exc:
        raise click.BadParameter(str(exc), param_hint="--set") from None


def _fields_help(rtype: RecordType, kind: str) -> str:
    fields = rtype.forms().get(kind, ())
    if not fields:
        return "(no fields)"
    return ", ".join(f"{f.name}{'*' if f.required else ''} ({f.label})" for f in fields)


# --- the group --------------------------------------------------------------------------


def records_group(key: str, *, store: StoreOpener = open_store,
                  ledger: LedgerOpener = open_ledger,
                  clock: Callable[[], datetime] = now_local) -> click.Group:
    """The click group of record type ``TYPES[key]``: list, show, new, do, history, and
    for work orders sla. ``store``, ``ledger`` and ``clock`` are what tests replace."""
    rtype = TYPES[key]
    with_sla = key == "orders"
    noun = rtype.label

    @contextmanager
    def session(cli: CliContext) -> Iterator[tuple[Records, User]]:
        """Records acting as the OS user's account; errors as ClickExceptions."""
        module_of(rtype)
        try:
            service = from_settings(cli.settings)
            with store(cli) as ch, ledger(cli) as submitter:
                name = os_user()
                user = Accounts(ch, cli.settings).get(name)
                if user is None:
                    raise click.ClickException(
                        f"the OS user {name!r} has no account of the web app, so `hj212 "
                        f"{key}` cannot say who acts; fix: an admin runs `hj212 users add "
                        f"{name} --role duty_operator` (or the role you need)")
                if not user.active:
                    raise click.ClickException(f"the account {name!r} is disabled; fix: "
                                               "ask an admin (管理员) to enable it")
                yield Records(submitter, ch, service, clock=clock), user
        except (StoreError, AccountError, PermissionDenied, ServiceSettingsError,
                LedgerError) as exc:
            raise click.ClickException(str(exc)) from None

    def visible(records: Records, user: User, record_id: str) -> Any:
        """The record's derived state, if it exists and ``user`` may see it."""
        state = records.get(rtype, record_id)
        if not state.opened:
            raise click.ClickException(
                f"{noun} {record_id!r} does not exist; fix: copy the id from `hj212 {key} "
                f"list`, or create it with `hj212 {key} new`")
        region = str(state.region)
        if (region == "" and user.regions and not user.is_admin) or \
                not user.sees_region(region):
            mine = "、".join(sorted(user.regions)) or "none"
            raise click.ClickException(
                f"{noun} {record_id} is of region {region or '(none)'!r}, which user "
                f"{user.username!r} may not see (their regions: {mine}); fix: ask the duty "
                "desk or a user of that region")
        return state

    def report(what: str, reply: Reply) -> None:
        click.echo(f"{what}: {outcome_text(reply)}")
        if reply.outcome not in (APPENDED, PENDING):
            sys.exit(1)

    @click.group(key, context_settings=CONTEXT, help=(
        f"{noun} (issue 12 service records): list, show, new, do, history"
        + (", sla" if with_sla else "") + ".\n\nYou act as the web-app account named like "
        "your OS user, with its roles and regions; every action is audited with the "
        "source \"cli\"."))
    def group() -> None:
        pass

    # --- reading ------------------------------------------------------------------------

    @group.command("list", context_settings=CONTEXT)
    @click.option("--state", "state_name", default=None,
                  help="Only records in this state (its name, e.g. on_site, or its Chinese "
                       "label).")
    @click.option("--region", default=None, help="Only records of this service region.")
    @click.option("--mine", is_flag=True,
                  help="Only records with you (engineer, assignee ...) or opened by you.")
    @click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
    @pass_cli
    def list_records(cli: CliContext, state_name: str | None, region: str | None,
                     mine: bool, as_json: bool) -> None:
        """Records you may see, newest opened first."""
        module = module_of(rtype)
        wanted = ""
        if state_name:
            wanted = _state_key(module, state_name)
        now = clock()
        with session(cli) as (records, user):
            states = records.all(rtype, user)
        if wanted:
            states = [s for s in states if s.state == wanted]
        if region:
            states = [s for s in states if s.region == region]
        if mine:
            states = [s for s in states if is_mine(s, user.username)]
        if as_json:
            click.echo(json.dumps([_summary_json(rtype, s, now, records.service)
                                   for s in states], ensure_ascii=False, indent=2))
            return
        if not states:
            click.echo(f"no {key} match (没有符合条件的记录)")
            return
        header = ["id 编号", "state 状态", "region 区域", "about 事由", "with 负责人",
                  "opened 开立", "seq"]
        if with_sla:
            header.append("SLA 时限")
        rows = []
        for s in states:
            row = [s.record_id, rtype.state_label(s.state), s.region or "-",
                   _first(s, _ABOUT_FIELDS) or "-", _first(s, _PERSON_FIELDS) or "-",
                   f"{s.opened_at:%Y-%m-%d %H:%M}" if s.opened_at else "-", str(s.last_seq)]
            if with_sla:
                row.append(_sla_summary(module, s, now, records.service))
            rows.append(row)
        click.echo(format_table(header, rows))

    @group.command(context_settings=CONTEXT)
    @click.argument("record_id")
    @click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
    @pass_cli
    def show(cli: CliContext, record_id: str, as_json: bool) -> None:
        """One record: its derived state, the verbs it allows next, its full history
        (and for work orders the SLA clocks)."""
        module = module_of(rtype)
        now = clock()
        with session(cli) as (records, user):
            state = visible(records, user, record_id)
        verbs = next_verbs(rtype, state)
        clocks = _clocks(module, state, now, records.service) if with_sla else []
        if as_json:
            out = {"type": key, "record_id": record_id, "state": state.state,
                   "state_label": rtype.state_label(state.state),
                   "record": jsonable(state), "next": list(verbs),
                   "history": [event_json(e) for e in state.events]}
            if with_sla:
                out["sla"] = [_clock_json(module, c) for c in clocks]
            click.echo(json.dumps(out, ensure_ascii=False, indent=2))
            return
        lines = [f"{noun} {record_id}",
                 f"state 状态      {rtype.state_label(state.state)}",
                 f"last seq       {state.last_seq}",
                 "next 可用操作   " + (", ".join(f"{k} ({rtype.kind_label(k)})"
                                              for k in verbs) or "-")]
        for f in dataclasses.fields(state):
            value = getattr(state, f.name)
            if f.name in ("events", "state", "last_seq") or value in (None, "", (), {}):
                continue
            lines.append(f"  {f.name:<20} {_text(value)}")
        click.echo("\n".join(lines))
        if with_sla:
            click.echo("\nSLA 时限:")
            click.echo(_clock_table(module, clocks, now) if clocks else "  (none)")
        click.echo("\nhistory 处理记录:")
        click.echo(_history_table(rtype, state.events))

    @group.command(context_settings=CONTEXT)
    @click.argument("record_id")
    @click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
    @pass_cli
    def history(cli: CliContext, record_id: str, as_json: bool) -> None:
        """The record's full history, oldest first (nothing is ever deleted)."""
        with session(cli) as (records, user):
            state = visible(records, user, record_id)
        if as_json:
            click.echo(json.dumps([event_json(e) for e in state.events],
                                  ensure_ascii=False, indent=2))
            return
        click.echo(_history_table(rtype, state.events))

    if with_sla:
        @group.command(context_settings=CONTEXT)
        @click.argument("record_id")
        @click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
        @pass_cli
        def sla(cli: CliContext, record_id: str, as_json: bool) -> None:
            """The work order's SLA clocks now, computed from its history: first contact,
            response and on site (a fault that stops the system), daily and weekly notes."""
            module = module_of(rtype)
            now = clock()
            with session(cli) as (records, user):
                state = visible(records, user, record_id)
            clocks = _clocks(module, state, now, records.service)
            if as_json:
                click.echo(json.dumps([_clock_json(module, c) for c in clocks],
                                      ensure_ascii=False, indent=2))
                return
            click.echo(_clock_table(module, clocks, now) if clocks else "no clocks")

    # --- changing -----------------------------------------------------------------------

    @group.command(context_settings=CONTEXT)
    @click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                  help="A field of the creating form (repeat; --fields lists them).")
    @click.option("--id", "record_id", default="",
                  help="The record's id (required for types whose id is a name, e.g. a "
                       "subscription's enterprise; else a new one is made).")
    @click.option("--engineer", default="",
                  help="Work orders: the engineer (default: the region's roster picks).")
    @click.option("--fields", "show_fields", is_flag=True,
                  help="List the creating form's fields (* required) and do nothing.")
    @pass_cli
    def new(cli: CliContext, sets: Sequence[str], record_id: str, engineer: str,
            show_fields: bool) -> None:
        """Create a record with the type's creating verb and its form's fields."""
        module_of(rtype)
        kind = rtype.create_kind
        if show_fields:
            click.echo(f"{rtype.kind_label(kind)}: {_fields_help(rtype, kind)}")
            return
        if not rtype.prefix and not record_id:
            raise click.UsageError(f"{noun}: give the record's id with --id (ids of this "
                                   "type are names, not made up)")
        if engineer and not with_sla:
            raise click.UsageError("--engineer is for work orders only")
        payload = form_payload(rtype.forms().get(kind, ()), parse_sets(sets))
        if engineer:
            payload["engineer"] = engineer  # the order hook routes it instead of the roster
        with session(cli) as (records, user):
            rid, reply = records.create(user, rtype, payload, CLI_SOURCE,
                                        record_id=record_id)
            state = records.get(rtype, rid) if reply.ok else None
        click.echo(f"{rtype.kind_label(kind)} {rid}: {outcome_text(reply)}")
        if state is not None and state.opened:
            who = _first(state, _PERSON_FIELDS)
            click.echo(f"state 状态 {rtype.state_label(state.state)}"
                       + (f"; with 负责人 {who}" if who else "")
                       + (f"; region 区域 {state.region}" if state.region else ""))
            if with_sla and not who:
                click.echo(f"nobody on the roster of {state.region!r} could take it; fix: "
                           f"`hj212 {key} do {rid} assign --set engineer=NAME`")
        if reply.outcome not in (APPENDED, PENDING):
            sys.exit(1)

    @group.command("do", context_settings=CONTEXT)
    @click.argument("record_id")
    @click.argument("verb")
    @click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                  help="A field of the verb's form (repeat; --fields lists them).")
    @click.option("--expect", type=click.IntRange(0), default=None,
                  help="The record's last seq you looked at (default: read it now); a "
                       "change made since is then a conflict naming who made it.")
    @click.option("--fields", "show_fields", is_flag=True,
                  help="List the verb's fields (* required) and do nothing.")
    @pass_cli
    def do(cli: CliContext, record_id: str, verb: str, sets: Sequence[str],
           expect: int | None, show_fields: bool) -> None:
        """Do VERB to RECORD_ID (any verb of the type; see `show` for the ones its state
        allows), with the verb's form fields as --set key=value."""
        module = module_of(rtype)
        kind = _verb(module, rtype, verb)
        if show_fields:
            click.echo(f"{rtype.kind_label(kind)}: {_fields_help(rtype, kind)}")
            return
        payload = form_payload(rtype.forms().get(kind, ()), parse_sets(sets))
        with session(cli) as (records, user):
            state = visible(records, user, record_id)
            seq = state.last_seq if expect is None else expect
            reply = records.act(user, rtype, record_id, kind, seq, payload, CLI_SOURCE)
        report(f"{rtype.kind_label(kind)} {record_id}", reply)

    return group


# --- helpers of the commands ------------------------------------------------------------


def _state_key(module: ModuleType, text: str) -> str:
    labels: Mapping[str, str] = module.STATE_LABELS
    for state in module.STATES:
        if text == state or text in str(labels.get(state, "")).split():
            return str(state)
    raise click.BadParameter(f"{text!r} is not a state; fix: one of "
                             f"{', '.join(module.STATES)}", param_hint="--state")


def _verb(module: ModuleType, rtype: RecordType, text: str) -> str:
    """The verb named by its key (``arrive``) or its Chinese label (``到场``)."""
    for kind in module.KINDS:
        if text == kind or text == rtype.kind_label(kind).split()[0]:
            return str(kind)
    raise click.BadParameter(f"{text!r} is not a verb of {rtype.label}; fix: one of "
                             f"{', '.join(module.KINDS)}", param_hint="VERB")


def _history_table(rtype: RecordType, events: Sequence[Event]) -> str:
    if not events:
        return "  (none yet)"
    return format_table(
        ["seq", "time 时间", "who 操作人", "action 操作", "detail 内容", "source"],
        [[str(e.seq), e.at.strftime(_TIME), e.actor, rtype.kind_label(e.kind),
          json.dumps(jsonable(e.payload), ensure_ascii=False, sort_keys=True), e.source]
         for e in events])


def _clocks(module: ModuleType, state: Any, now: datetime, service: Any) -> list[Any]:
    clocks: list[Any] = module.sla(state, now, service.sla)
    return clocks


def _clock_status(clock: Any, now: datetime) -> str:
    if clock.met_at is not None:
        return "超时 breached (met late)" if clock.breached else "按时 met"
    if clock.breached:
        return f"超时 breached ({_span(now - clock.due_at)} late)"
    left = f"{_span(clock.due_at - now)} left"
    return f"预警 warning ({left})" if clock.warn else f"进行中 running ({left})"


def _span(delta: Any) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes >= 1440:
        return f"{minutes // 1440}d{(minutes % 1440) // 60:02d}h"
    if minutes >= 60:
        return f"{minutes // 60}h{minutes % 60:02d}m"
    return f"{minutes}m"


def _clock_table(module: ModuleType, clocks: Sequence[Any], now: datetime) -> str:
    labels: Mapping[str, str] = module.CLOCK_LABELS
    return format_table(
        ["clock 时限", "started 起", "due 应于", "met 完成", "status 状态"],
        [[labels.get(c.name, c.name), c.started_at.strftime(_TIME), c.due_at.strftime(_TIME),
          c.met_at.strftime(_TIME) if c.met_at else "-", _clock_status(c, now)]
         for c in clocks])


def _clock_json(module: ModuleType, clock: Any) -> dict[str, Any]:
    labels: Mapping[str, str] = module.CLOCK_LABELS
    out: dict[str, Any] = jsonable(clock)
    out["label"] = labels.get(clock.name, clock.name)
    return out


def _sla_summary(module: ModuleType, state: Any, now: datetime, service: Any) -> str:
    """The list's SLA cell: the clocks breached, else those warning, else ok."""
    clocks = _clocks(module, state, now, service)
    labels: Mapping[str, str] = module.CLOCK_LABELS

    def names(cs: Sequence[Any]) -> str:
        return ", ".join(sorted({labels.get(c.name, c.name).split(maxsplit=1)[-1]
                                  for c in cs}))

    breached = [c for c in clocks if c.breached]
    if breached:
        return f"超时 breach: {names(breached)}"
    warn = [c for c in clocks if c.warn]
    if warn:
        return f"预警 warning: {names(warn)}"
    return "ok"


def _summary_json(rtype: RecordType, state: Any, now: datetime, service: Any
                  ) -> dict[str, Any]:
    out: dict[str, Any] = jsonable(state)
    out["state_label"] = rtype.state_label(state.state)
    if rtype.key == "orders":
        module = rtype.module
        out["sla"] = [_clock_json(module, c) for c in _clocks(module, state, now, service)]
    return out


#: the five groups, for the entry points (pyproject.toml [project.entry-points."hj212.commands"])
orders = records_group("orders")
subscriptions = records_group("subscriptions")
inspections = records_group("inspections")
visits = records_group("visits")
complaints = records_group("complaints")
