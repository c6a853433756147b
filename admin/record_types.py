"""The service-record types and what their hooks see (admin/records.py does the I/O):
``RecordType`` (a pure record module and its names), ``TYPES``, the ``Action`` a hook
prepares, ``Hook``, and ``RecordStore``, the part of ``Records`` a hook may use. Apart
from records.py so the hooks (order_hooks, subscription_hooks) need not import it.
"""

from __future__ import annotations

import importlib
import inspect
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Any, Final, Protocol

from admin.record_fields import Field
from admin.roles import Role, User
from admin.service_settings import ServiceSettings
from pipeline.ledger.model import Event, Reply
from pipeline.store.client import ClickHouse
from pipeline.timebase import now_local


@dataclass(frozen=True)
class RecordType:
    key: str  # the page's and CLI's name: orders, subscriptions, ...
    module_name: str
    prefix: str  # new ids: <prefix>-<YYYYmmdd>-<6 hex>; '' when the caller names the id
    label: str  # Chinese first, English beside

    @property
    def module(self) -> ModuleType:
        return importlib.import_module(self.module_name)

    @property
    def stream(self) -> str:
        return str(self.module.STREAM)

    @property
    def create_kind(self) -> str:
        return str(self.module.KINDS[0])

    def forms(self) -> Mapping[str, tuple[Field, ...]]:
        forms: Mapping[str, tuple[Field, ...]] = self.module.FORMS
        return forms

    def kind_label(self, kind: str) -> str:
        return str(self.module.KIND_LABELS.get(kind, kind))

    def state_label(self, state: str) -> str:
        return str(self.module.STATE_LABELS.get(state, state or "-"))

    def derive(self, events: Sequence[Event], record_id: str = "") -> Any:
        return self.module.derive(events, record_id)

    def next_kinds(self, state: Any) -> tuple[str, ...]:
        """The verbs the record's state may allow; a module's ``next_kinds`` takes the
        derived state (work orders: the escalation level matters) or its state name."""
        fn = self.module.next_kinds
        param = next(iter(inspect.signature(fn).parameters.values()))
        takes_name = param.annotation in (str, "str")
        return tuple(fn(state.state if takes_name else state))

    def roles(self, kind: str, state: Any = None,
              payload: Mapping[str, Any] | None = None) -> frozenset[Role]:
        """Who may do ``kind``; a module with ``roles_for(verb, sort)`` (inspections:
        platform or site) judges by the record's sort, or the creating payload's."""
        roles_for = getattr(self.module, "roles_for", None)
        if roles_for is not None:
            sort = str(getattr(state, "kind", "") or (payload or {}).get("kind", ""))
            if sort:
                found: frozenset[Role] = roles_for(kind, sort)
                return found
        roles: frozenset[Role] = self.module.KIND_ROLES.get(kind, frozenset())
        return roles


TYPES: Final[Mapping[str, RecordType]] = {
    "orders": RecordType("orders", "admin.work_orders", "WO", "运维工单 work orders"),
    "subscriptions": RecordType("subscriptions", "admin.subscriptions", "",
                                "365服务 subscriptions"),
    "inspections": RecordType("inspections", "admin.inspections", "IN", "巡检 inspections"),
    "visits": RecordType("visits", "admin.visits", "", "回访 return visits"),
    "complaints": RecordType("complaints", "admin.complaints", "CP", "投诉 complaints"),
}


class RecordActionError(Exception):
    """A hook refuses a change before it is sent; the message says why and the fix."""


@dataclass
class Action:
    """One change being prepared: hooks may fill the payload or add follow-ups."""

    rtype: RecordType
    record_id: str
    kind: str
    state: Any  # the derived state before the change
    payload: dict[str, Any]
    user: User
    #: changes to append after this one is appended: (kind, payload), same record
    follow_ups: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class RecordStore(Protocol):
    """What a hook may use of admin.records.Records."""

    ch: ClickHouse
    service: ServiceSettings

    def clock(self) -> datetime: ...

    def all(self, rtype: RecordType, user: User | None = None) -> list[Any]: ...

    def create(self, user: User, rtype: RecordType, payload: Mapping[str, Any],
               source: str, *, record_id: str = "", address: str = "",
               wait_s: float | None = None) -> tuple[str, Reply]: ...


class Hook(Protocol):
    """Prepares a change before it is sent: fills the payload, adds follow-ups, or
    refuses with RecordActionError."""

    def prepare(self, records: RecordStore, action: Action) -> None: ...


def allowed(user: User, rtype: RecordType, kind: str, state: Any = None,
            payload: Mapping[str, Any] | None = None) -> bool:
    """Whether ``user``'s roles allow ``kind`` on a record in ``state`` (regions aside);
    an empty role set means the system alone (admin included: nobody types it)."""
    roles = rtype.roles(kind, state, payload)
    return bool(roles) and user.has(*sorted(roles))


def new_id(rtype: RecordType, now: datetime | None = None) -> str:
    day = (now or now_local()).strftime("%Y%m%d")
    return f"{rtype.prefix}-{day}-{uuid.uuid4().hex[:6].upper()}"
