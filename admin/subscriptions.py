"""365-service subscriptions (企业环保365服务): one record per enterprise (the record id is
the enterprise's name, as in the station registry's ``enterprise``), the rule the ledger
writer applies to each change, the derived state, and the time-aware status, renewal
reminders and the set of subscribed enterprises. Pure: no I/O, no clock reads.

Stored states (what the events say): registered → trial or active → lapsed.
- ``register`` (登记) writes the duty-platform register (值守平台信息表): enterprise,
  region, stations covered (MNs), contract number, start and end dates (inclusive), trial,
  contact person, phone, sales, remark. It may be repeated before the service is opened
  (to correct it) and after a lapse (to come back); each register starts a new cycle.
- ``review_contract`` (合同评审) records a review of a contract number (the current one
  by default); only reviews made since the cycle's register count.
- ``open`` (开通), by the duty-centre supervisor (SERVICE.md), needs a passed review of
  the registered contract and the system's stability evidence in ``payload["stability"]``
  (filled by the I/O layer from transmission-efficiency figures with ``stability_check``,
  never typed by a person). It opens a trial or an active service, per the register.
- ``renew`` (续约) is a new contract: a new contract number, an end after the old one, and
  a passed review of that new number (the supervisor checks every contract it opens; a
  renewal is no exception). A trial renewed becomes active. A renewal may come after the
  end date (the service lapsed by date but was never stopped).
- ``change_stations`` (变更站点), ``lapse`` (停止: reason), ``note`` (备注).

The status (``status``) adds the date: trial or active, ``expiring`` within the longest
reminder window before the end date, ``lapsed`` after the end date or once stopped. A
trial near its end is expiring too: the reminder is the same (sign or lose the service).
The rule cannot read the settings file, so the trial length (``trial_days``) is a
default for the form (``trial_end``), not a refusal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any, Final

from admin import record_rules as rr
from admin.record_fields import BOOL, CHOICE, DATE, LIST, LONG, TEXT, Field
from admin.record_rules import Note
from admin.record_rules import finite as _number
from admin.record_rules import iso_date as _date
from admin.record_rules import refuse as _refuse
from admin.record_rules import text as _text
from admin.roles import Role
from admin.service_settings import SubscriptionRules
from pipeline.ledger.model import Change, Event
from pipeline.registry.model import REGIONS

#: the ledger stream of 365-service subscriptions
STREAM: Final = "subscription"

# the verbs (Change.kind)
REGISTER: Final = "register"
REVIEW: Final = "review_contract"
OPEN: Final = "open"
RENEW: Final = "renew"
CHANGE_STATIONS: Final = "change_stations"
LAPSE: Final = "lapse"
NOTE: Final = "note"
NOTIFY: Final = "notify"  # 通知: receiver, text (hj212 notify sends it: renewal reminders)
KINDS: Final = (REGISTER, REVIEW, OPEN, RENEW, CHANGE_STATIONS, LAPSE, NOTE, NOTIFY)

KIND_LABELS: Final = {
    REGISTER: "登记 register", REVIEW: "合同评审 review contract", OPEN: "开通 open",
    RENEW: "续约 renew", CHANGE_STATIONS: "变更站点 change stations", LAPSE: "停止 lapse",
    NOTE: "备注 note",
    NOTIFY: "通知 notify",
}

# the stored states
REGISTERED: Final = "registered"
TRIAL: Final = "trial"
ACTIVE: Final = "active"
LAPSED: Final = "lapsed"
STATES: Final = (REGISTERED, TRIAL, ACTIVE, LAPSED)
STATE_LABELS: Final = {
    REGISTERED: "已登记 registered", TRIAL: "试用 trial", ACTIVE: "服务中 active",
    LAPSED: "已停止 lapsed",
}

#: the time-aware status (``status``): the stored states plus expiring
EXPIRING: Final = "expiring"
STATUSES: Final = (REGISTERED, TRIAL, ACTIVE, EXPIRING, LAPSED)
STATUS_LABELS: Final = {
    REGISTERED: "已登记未开通 registered", TRIAL: "试用 trial", ACTIVE: "服务中 active",
    EXPIRING: "即将到期 expiring", LAPSED: "已到期/停止 lapsed",
}

PASSED: Final = "passed"
FAILED: Final = "failed"
RESULTS: Final = (PASSED, FAILED)

#: the longest free text a change may carry
MAX_TEXT: Final = 4000

_OPS: Final = frozenset({Role.DUTY_OPERATOR, Role.DUTY_SUPERVISOR})
_SUPERVISOR: Final = frozenset({Role.DUTY_SUPERVISOR})

#: who may do each verb (admin holds every role; the I/O layer checks it). The duty-centre
#: supervisor opens and closes the service after checking contract and data (SERVICE.md).
KIND_ROLES: Final[Mapping[str, frozenset[Role]]] = {
    REGISTER: _OPS, NOTE: _OPS, NOTIFY: _OPS,
    REVIEW: _SUPERVISOR, OPEN: _SUPERVISOR, RENEW: _SUPERVISOR,
    CHANGE_STATIONS: _SUPERVISOR, LAPSE: _SUPERVISOR,
}

_REGION_CHOICES: Final = tuple(REGIONS)

#: what each verb's form asks. ``open`` asks only a note: its stability evidence is added
#: by the I/O layer after the form (``stability_check``), never typed in.
FORMS: Final[Mapping[str, tuple[Field, ...]]] = {
    REGISTER: (
        Field("enterprise", "企业名称 enterprise", TEXT, required=True,
              help="as in the station registry"),
        Field("region", "服务区域 service region", CHOICE, required=True,
              choices=_REGION_CHOICES),
        Field("stations", "覆盖站点 stations (MN)", LIST, required=True,
              help="the MNs covered, comma-separated"),
        Field("contract_no", "合同编号 contract number", TEXT, required=True),
        Field("start", "开始日期 start date", DATE, required=True),
        Field("end", "结束日期 end date", DATE, required=True,
              help="the last day of service (inclusive)"),
        Field("trial", "试用 trial", BOOL),
        Field("contact_person", "联系人 contact person", TEXT),
        Field("contact_phone", "联系电话 contact phone", TEXT),
        Field("sales", "销售负责人 sales", TEXT),
        Field("remark", "备注 remark", LONG),
    ),
    REVIEW: (
        Field("contract_no", "合同编号 contract number", TEXT,
              help="empty: the current contract"),
        Field("reviewer", "评审人 reviewer", TEXT, required=True),
        Field("result", "评审结论 result", CHOICE, required=True, choices=RESULTS,
              choice_labels={PASSED: "通过 passed", FAILED: "不通过 failed"}),
        Field("note", "评审意见 note", LONG, help="required when the review failed"),
    ),
    OPEN: (Field("note", "开通说明 note", LONG),),
    RENEW: (
        Field("contract_no", "新合同编号 new contract number", TEXT, required=True),
        Field("start", "新合同开始日期 new start date", DATE),
        Field("end", "新结束日期 new end date", DATE, required=True),
        Field("note", "备注 note", LONG),
    ),
    CHANGE_STATIONS: (
        Field("stations", "覆盖站点 stations (MN)", LIST, required=True),
        Field("reason", "变更原因 reason", LONG, required=True),
    ),
    LAPSE: (Field("reason", "停止原因 reason", LONG, required=True),),
    NOTE: (Field("text", "备注 note", LONG, required=True),),
    NOTIFY: (Field("receiver", "接收群 receiver", TEXT, required=True),
             Field("text", "内容 text", LONG, required=True)),
}

_NEXT: Final[Mapping[str, tuple[str, ...]]] = {
    "": (REGISTER,),
    REGISTERED: (REGISTER, REVIEW, OPEN, CHANGE_STATIONS, LAPSE, NOTE, NOTIFY),
    TRIAL: (REVIEW, RENEW, CHANGE_STATIONS, LAPSE, NOTE, NOTIFY),
    ACTIVE: (REVIEW, RENEW, CHANGE_STATIONS, LAPSE, NOTE, NOTIFY),
    LAPSED: (REGISTER, NOTE, NOTIFY),
}


def next_kinds(state: str) -> tuple[str, ...]:
    """The verbs a subscription in stored state ``state`` may allow (forms to offer)."""
    return _NEXT.get(state, ())


@dataclass(frozen=True, slots=True)
class Review:
    seq: int
    actor: str
    at: datetime
    contract_no: str
    reviewer: str
    result: str  # PASSED or FAILED
    note: str


@dataclass(frozen=True, slots=True)
class Contract:
    """A contract the service ran (or is to run) under: the register's, then renewals'."""

    seq: int
    contract_no: str
    start: date
    end: date
    trial: bool


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    record_id: str  # the enterprise's name
    state: str  # one of STATES; "" before the first register
    #: the record exists (registered once); ``opened_at`` is that first register
    opened: bool = False
    opened_at: datetime | None = None
    region: str = ""
    # the duty-platform register (值守平台信息表), as last registered or changed
    enterprise: str = ""
    stations: tuple[str, ...] = ()
    contract_no: str = ""
    start: date | None = None
    end: date | None = None  # the last day of service, inclusive
    trial: bool = False
    contact_person: str = ""
    contact_phone: str = ""
    sales: str = ""
    remark: str = ""
    registered_by: str = ""
    registered_at: datetime | None = None  # the current cycle's register
    cycle_seq: int = 0  # the seq of the current cycle's register
    contracts: tuple[Contract, ...] = ()  # this cycle's, oldest first
    reviews: tuple[Review, ...] = ()  # every review, oldest first
    #: the service opening (开通) of this cycle: when, by whom, on what evidence
    service_opened_at: datetime | None = None
    service_opened_by: str = ""
    stability: Mapping[str, Any] = field(default_factory=dict)
    lapsed_at: datetime | None = None
    lapsed_by: str = ""
    lapse_reason: str = ""
    station_changes: tuple[Note, ...] = ()  # the reasons, as notes
    notes: tuple[Note, ...] = ()
    last_seq: int = 0
    events: tuple[Event, ...] = field(default=(), repr=False)


# --- payload values ---------------------------------------------------------------------


def _stations(value: Any) -> tuple[str, ...] | None:
    """The MNs of a LIST value; None when it is not a list of distinct non-empty texts."""
    if not isinstance(value, list | tuple) or not value:
        return None
    items = [v.strip() for v in value if isinstance(v, str)]
    if len(items) != len(value) or not all(items) or len(set(items)) != len(items):
        return None
    return tuple(items)


def _zh(kind: str) -> str:
    return rr.first_word(KIND_LABELS, kind)


# --- the rule ---------------------------------------------------------------------------


def check(history: Sequence[Event], change: Change) -> str | None:
    """Why ``change`` may not follow ``history`` (the subscription's events so far), in
    Chinese and English, or None when it may."""
    why = rr.check_verb_and_actor(change, KINDS, "订阅", "subscription")
    if why:
        return why
    if not change.record_id.strip():
        return _refuse("订阅记录没有企业名称", "the subscription's record id (the enterprise "
                       "name) is empty; fix: name the enterprise")
    kind, p = change.kind, change.payload
    why = rr.too_long(p, MAX_TEXT)
    if why:
        return why
    s = derive(history, change.record_id)
    if kind not in next_kinds(s.state):
        return _refuse_state(s, kind)
    if kind == REGISTER:
        return _check_register(change.record_id, p)
    if kind == REVIEW:
        contract = _text(p, "contract_no") or s.contract_no
        if not _text(p, "reviewer"):
            return _refuse("请填写评审人", "review needs the reviewer; fix: name who reviewed "
                           f"contract {contract}")
        result = _text(p, "result")
        if result not in RESULTS:
            return _refuse(f"评审结论 {result!r} 无效",
                           f"result {result!r} is unknown; fix: {PASSED} or {FAILED}")
        if result == FAILED and not _text(p, "note"):
            return _refuse("评审不通过，请写明原因", "a failed review needs a note; fix: say "
                           "what the contract lacks")
        return None
    if kind == OPEN:
        return _check_open(s, change)
    if kind == RENEW:
        return _check_renew(s, p)
    if kind == CHANGE_STATIONS:
        stations = _stations(p.get("stations"))
        if stations is None:
            return _refuse("覆盖站点须为不重复的 MN 列表", "stations must be a non-empty list "
                           "of distinct MNs; fix: list them, comma-separated")
        if sorted(stations) == sorted(s.stations):
            return _refuse("站点没有变化", "the stations are the same as now; nothing to "
                           "change")
        if not _text(p, "reason"):
            return _refuse("请填写变更原因", "change_stations needs a reason; fix: say why")
        return None
    if kind == LAPSE:
        if not _text(p, "reason"):
            return _refuse("请填写停止原因", "lapse needs a reason; fix: say why the service "
                           "stops")
        return None
    if kind == NOTIFY:
        return rr.check_notify(p)
    if kind == NOTE and not _text(p, "text"):
        return _refuse("备注为空", "empty note; fix: write it")
    return None


_STATE_HINT: Final[Mapping[str, str]] = {
    REGISTER: "register once, again only before opening or after a lapse",
    REVIEW: "a lapsed subscription reviews nothing; fix: register it again first",
    OPEN: "only a registered (not yet opened) subscription can be opened; a lapsed one is "
          "registered again first",
    RENEW: "only an opened (trial or active) subscription is renewed; fix: open it first, "
           "or register a lapsed one again",
    CHANGE_STATIONS: "a lapsed subscription covers nothing; fix: register it again",
    LAPSE: "the subscription is already stopped",
    NOTE: "register the subscription first",
    NOTIFY: "register the subscription first",
}


def _refuse_state(s: SubscriptionState, kind: str) -> str:
    if not s.opened:
        return _refuse(f"企业 {s.record_id} 尚未登记365服务，不能{_zh(kind)}",
                       f"{s.record_id} has no 365-service registration; fix: register it "
                       f"before you {kind}")
    now = STATE_LABELS.get(s.state, s.state)
    return _refuse(f"服务状态为{now.split()[0]}，不能{_zh(kind)}",
                   f"the subscription is {s.state}; {_STATE_HINT[kind]}")


def _check_register(record_id: str, p: Mapping[str, Any]) -> str | None:
    enterprise = _text(p, "enterprise")
    if enterprise != record_id.strip():
        return _refuse(f"企业名称 {enterprise!r} 与记录 {record_id!r} 不符",
                       f"enterprise {enterprise!r} is not the record's {record_id!r}; fix: "
                       "the record id is the enterprise name, as in the station registry")
    why = rr.unknown_value(_text(p, "region"), REGIONS, "服务区域", "region")
    if why:
        return why
    if _stations(p.get("stations")) is None:
        return _refuse("覆盖站点须为不重复的 MN 列表", "stations must be a non-empty list of "
                       "distinct MNs; fix: list them, comma-separated")
    why = rr.missing(p, (("contract_no", "合同编号"),), REGISTER)
    if why:
        return why
    start, end = _date(p.get("start")), _date(p.get("end"))
    if start is None:
        return rr.not_a_date(p.get("start"), "开始日期", "start")
    if end is None:
        return rr.not_a_date(p.get("end"), "结束日期", "end")
    if end < start:
        return _refuse(f"结束日期 {end} 早于开始日期 {start}",
                       f"end {end} is before start {start}; fix: swap or correct them")
    if "trial" in p and not isinstance(p["trial"], bool):
        return _refuse("trial 须为是/否", "trial must be true or false")
    return None


def _passed(s: SubscriptionState, contract_no: str) -> bool:
    """Whether the last review of ``contract_no`` in the current cycle passed."""
    mine = [r for r in s.reviews if r.seq > s.cycle_seq and r.contract_no == contract_no]
    return bool(mine) and mine[-1].result == PASSED


def _check_open(s: SubscriptionState, change: Change) -> str | None:
    if not _passed(s, s.contract_no):
        return _refuse(f"合同 {s.contract_no} 未通过评审，不能开通",
                       f"contract {s.contract_no} has no passed review since the "
                       "registration; fix: review the contract (review_contract) first")
    if change.submitted_at is None:
        return _refuse("开通缺少提交时间", "open carries no submitted_at, so the stability "
                       "days cannot be matched to its date; fix: submit through the ledger "
                       "client")
    day = change.submitted_at.date()
    if s.end is not None and day > s.end:
        return _refuse(f"合同已于 {s.end} 结束，不能开通",
                       f"the contract ended on {s.end}; fix: register the new contract")
    return check_stability(change.payload.get("stability"), day)


def check_stability(evidence: Any, day: date) -> str | None:
    """Why the stability evidence (``stability_check``'s dict) does not allow opening on
    ``day``, or None. The days must be consecutive and end on ``day`` or the day before,
    each at or above the threshold, at least one (and ``required_days`` when given)."""
    if not isinstance(evidence, Mapping):
        return _refuse("缺少数据稳定性核验", "open needs the system's stability check "
                       "(payload stability); fix: open from the page or CLI, which adds it")
    threshold = _number(evidence.get("threshold"))
    if threshold is None or not 0.0 <= threshold <= 1.0:
        return _refuse(f"稳定性阈值 {evidence.get('threshold')!r} 无效",
                       f"stability threshold {evidence.get('threshold')!r} is not a share "
                       "0..1; fix: set subscriptions.stable_efficiency")
    days = evidence.get("days")
    if not isinstance(days, list | tuple) or not days:
        return _refuse("没有传输有效率数据，不能开通", "no day of transmission-efficiency "
                       "figures; fix: wait until the stations' data reach the platform")
    parsed: list[tuple[date, float]] = []
    for item in days:
        d = _date(item.get("day")) if isinstance(item, Mapping) else None
        eff = _number(item.get("efficiency")) if isinstance(item, Mapping) else None
        if d is None or eff is None or eff < 0:
            return _refuse(f"稳定性数据 {item!r} 无效",
                           f"stability day {item!r} is not {{day: YYYY-MM-DD, efficiency: "
                           "share}; fix: recompute the check")
        parsed.append((d, eff))
    for (a, _), (b, _) in pairwise(parsed):
        if b != a + timedelta(days=1):
            return _refuse(f"传输有效率数据不连续（{a} 之后是 {b}）",
                           f"the days are not consecutive ({a} then {b}); fix: every day "
                           "needs its figure")
    last = parsed[-1][0]
    if last not in (day, day - timedelta(days=1)):
        return _refuse(f"稳定性数据截至 {last}，不是开通日 {day} 或前一天",
                       f"the stability days end on {last}, not on {day} or the day before; "
                       "fix: recompute the check today")
    required = evidence.get("required_days")
    if isinstance(required, int) and not isinstance(required, bool) and len(
            parsed) < required:
        return _refuse(f"只有 {len(parsed)} 天数据，需要 {required} 天",
                       f"only {len(parsed)} days of figures, {required} needed; fix: wait "
                       "until the stations have reported long enough")
    for d, eff in parsed:
        if eff < threshold:
            return _refuse(f"{d} 传输有效率 {eff:.1%} 低于 {threshold:.1%}，数据不稳定",
                           f"transmission efficiency {eff:.1%} on {d} is below "
                           f"{threshold:.1%}; fix: have the data fixed, open when stable")
    if evidence.get("ok") is not True:
        return _refuse("系统稳定性核验未通过", "the system's stability check says not ok; "
                       "fix: recompute it once the data are stable")
    return None


def _check_renew(s: SubscriptionState, p: Mapping[str, Any]) -> str | None:
    contract = _text(p, "contract_no")
    if not contract:
        return _refuse("请填写新合同编号", "renew needs the new contract_no; fix: give it")
    if contract == s.contract_no:
        return _refuse(f"合同 {contract} 是当前合同", f"{contract} is the current contract; "
                       "fix: a renewal has a new contract number")
    if not _passed(s, contract):
        return _refuse(f"新合同 {contract} 未通过评审",
                       f"the new contract {contract} has no passed review; fix: review it "
                       "(review_contract with its contract_no) first")
    end = _date(p.get("end"))
    if end is None:
        return rr.not_a_date(p.get("end"), "新结束日期", "end")
    if s.end is not None and end <= s.end:
        return _refuse(f"新结束日期 {end} 不晚于原结束日期 {s.end}",
                       f"the new end {end} is not after the old end {s.end}; fix: a later "
                       "date")
    if "start" in p and _text(p, "start"):
        start = _date(p.get("start"))
        if start is None or start > end:
            return _refuse(f"新合同开始日期 {p.get('start')!r} 无效",
                           f"start {p.get('start')!r} is not a date on or before {end}; "
                           "fix: YYYY-MM-DD")
    return None


# --- the state --------------------------------------------------------------------------


def derive(events: Sequence[Event], record_id: str = "") -> SubscriptionState:
    """The subscription's state from its events (in any order; ``seq`` orders them). It
    trusts them (the writer checked each), so it never refuses."""
    ordered, record_id, last = rr.history(events, record_id)
    v: dict[str, Any] = {}
    contracts: list[Contract] = []
    reviews: list[Review] = []
    changes: list[Note] = []
    notes: list[Note] = []
    state = ""
    for e in ordered:
        p = e.payload
        if e.kind == REGISTER:
            state = REGISTERED
            start = _date(p.get("start")) or e.at.date()
            end = _date(p.get("end")) or start
            trial = p.get("trial") is True
            contracts = [Contract(e.seq, _text(p, "contract_no"), start, end, trial)]
            v.setdefault("opened_at", e.at)
            v.update(opened=True, region=_text(p, "region"),
                     enterprise=_text(p, "enterprise") or record_id,
                     stations=_stations(p.get("stations")) or (),
                     contract_no=_text(p, "contract_no"), start=start, end=end, trial=trial,
                     contact_person=_text(p, "contact_person"),
                     contact_phone=_text(p, "contact_phone"), sales=_text(p, "sales"),
                     remark=_text(p, "remark"), registered_by=e.actor, registered_at=e.at,
                     cycle_seq=e.seq, service_opened_at=None, service_opened_by="",
                     stability={}, lapsed_at=None, lapsed_by="", lapse_reason="")
        elif e.kind == REVIEW:
            reviews.append(Review(e.seq, e.actor, e.at,
                                  _text(p, "contract_no") or v.get("contract_no", ""),
                                  _text(p, "reviewer"), _text(p, "result"),
                                  _text(p, "note")))
        elif e.kind == OPEN:
            state = TRIAL if v.get("trial") else ACTIVE
            evidence = p.get("stability")
            v.update(service_opened_at=e.at, service_opened_by=e.actor,
                     stability=dict(evidence) if isinstance(evidence, Mapping) else {})
        elif e.kind == RENEW:
            state = ACTIVE
            old_end: date | None = v.get("end")
            end = _date(p.get("end")) or old_end or e.at.date()
            # no start given: the new contract follows the old one
            renewed = _date(p.get("start")) if _text(p, "start") else None
            if renewed is None:
                renewed = old_end + timedelta(days=1) if old_end is not None else e.at.date()
            contracts.append(Contract(e.seq, _text(p, "contract_no"), renewed, end, False))
            v.update(contract_no=_text(p, "contract_no"), start=renewed, end=end,
                     trial=False)
        elif e.kind == CHANGE_STATIONS:
            v["stations"] = _stations(p.get("stations")) or v.get("stations", ())
            changes.append(Note(e.seq, e.actor, e.at, _text(p, "reason")))
        elif e.kind == LAPSE:
            state = LAPSED
            v.update(lapsed_at=e.at, lapsed_by=e.actor, lapse_reason=_text(p, "reason"))
        elif e.kind == NOTE:
            notes.append(Note(e.seq, e.actor, e.at, _text(p, "text")))
    return SubscriptionState(record_id=record_id, state=state, contracts=tuple(contracts),
                             reviews=tuple(reviews), station_changes=tuple(changes),
                             notes=tuple(notes), last_seq=last, events=ordered, **v)


# --- time: status, reminders, who is subscribed -----------------------------------------


def status(state: SubscriptionState, today: date, rules: SubscriptionRules) -> str:
    """The service's status on ``today``: "" before registration, registered (not opened),
    trial or active, expiring (from the longest of ``remind_days`` before the end date
    through the end date, inclusive), lapsed (after the end date, or stopped)."""
    if state.state in ("", REGISTERED, LAPSED):
        return state.state
    if state.end is None or today > state.end:
        return LAPSED
    # expiring from the day the first reminder is due, so page and reminder agree
    window = max(rules.remind_days, default=-1)
    if (state.end - today).days <= window:
        return EXPIRING
    return state.state


def trial_end(start: date, rules: SubscriptionRules) -> date:
    """The default end date of a trial starting on ``start`` (for the register form):
    ``trial_days`` days of service, the start day included."""
    return start + timedelta(days=rules.trial_days - 1)


@dataclass(frozen=True, slots=True)
class Reminder:
    """A renewal reminder (续约提醒) due ``days_before`` days before ``end``."""

    key: str  # stable: enterprise/contract_no/end/days_before (the sender sends it once)
    enterprise: str
    region: str
    contract_no: str
    end: date
    days_before: int
    due: date
    trial: bool
    sales: str


def renewal_reminders(states: Iterable[SubscriptionState], today: date,
                      rules: SubscriptionRules) -> list[Reminder]:
    """The renewal reminders due on ``today``: for each opened (trial or active) service
    not yet past its end, the latest of ``remind_days`` whose day has come. Only the
    latest, so a sender that missed the 30-day reminder does not send it beside the 7-day
    one; the key changes with the contract, so a renewal starts afresh."""
    out: list[Reminder] = []
    for s in states:
        if s.state not in (TRIAL, ACTIVE) or s.end is None or today > s.end:
            continue
        due_days = [d for d in rules.remind_days if s.end - timedelta(days=d) <= today]
        if not due_days:
            continue
        d = min(due_days)
        out.append(Reminder(key=f"{s.record_id}/{s.contract_no}/{s.end.isoformat()}/{d}",
                            enterprise=s.record_id, region=s.region,
                            contract_no=s.contract_no, end=s.end, days_before=d,
                            due=s.end - timedelta(days=d), trial=s.trial, sales=s.sales))
    return sorted(out, key=lambda r: (r.end, r.enterprise))


def subscribed(states: Iterable[SubscriptionState], today: date) -> frozenset[str]:
    """The enterprises whose service runs on ``today`` (trial, active or expiring): they
    get the weekly report and enterprise notifications."""
    return frozenset(s.record_id for s in states
                     if s.state in (TRIAL, ACTIVE) and s.end is not None and today <= s.end)


def stability_check(rows: Sequence[tuple[date, float]], today: date,
                    rules: SubscriptionRules) -> dict[str, Any]:
    """The stability evidence an ``open`` carries, from per-day transmission efficiencies
    (share 0..1): the ``stable_days`` days before ``today`` (today is not complete yet).
    A day with no figure is missing, which is not stable. The dict is JSON-able."""
    window = [today - timedelta(days=k) for k in range(rules.stable_days, 0, -1)]
    by_day: dict[date, float] = {}
    for day, eff in rows:
        # two figures for one day: the lower one, so a doubt never opens a service
        by_day[day] = min(eff, by_day.get(day, eff))
    days = [{"day": d.isoformat(), "efficiency": float(by_day[d])}
            for d in window if d in by_day]
    missing = [d.isoformat() for d in window if d not in by_day]
    ok = not missing and all(by_day[d] >= rules.stable_efficiency for d in window)
    return {"threshold": float(rules.stable_efficiency), "required_days": rules.stable_days,
            "as_of": today.isoformat(), "days": days, "missing": missing, "ok": ok}
