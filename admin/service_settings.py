"""The service records' settings file (admin/service.toml, the sample; setting
``service.file`` points at another): SLA limits, escalation receivers, rosters per region,
subscription, visit and inspection rules, and the subcontractor score. Pure parsing: the
file's text in, frozen dataclasses out; a bad value is a ServiceSettingsError naming the
file, the key and the value.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from admin.work_orders import LEVELS, ORDINARY, SlaLimits
from pipeline.registry.model import REGIONS

SAMPLE: Final = Path(__file__).parent / "service.toml"


class ServiceSettingsError(ValueError):
    """The settings file is unreadable or a value is wrong; the message names it."""


@dataclass(frozen=True, slots=True)
class EscalationLevel:
    receivers: tuple[str, ...] = ()  # notify routing file's receiver names
    report_due_min: int = 0  # 0: no written report deadline


@dataclass(frozen=True, slots=True)
class Rosters:
    fallback: str = ""
    regions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def of(self, region: str) -> tuple[str, ...]:
        return self.regions.get(region, ())


@dataclass(frozen=True, slots=True)
class SubscriptionRules:
    stable_days: int = 7
    stable_efficiency: float = 0.90
    trial_days: int = 30
    remind_days: tuple[int, ...] = (30, 7)
    remind_notify: tuple[str, ...] = ()  # receivers told of each renewal reminder


@dataclass(frozen=True, slots=True)
class VisitRules:
    after_close_days: int = 7
    contract_every_months: int = 3


@dataclass(frozen=True, slots=True)
class InspectionRules:
    platform_every_days: int = 30
    site_every_days: int = 90
    templates: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Subcontractor:
    name: str
    regions: tuple[str, ...]
    monthly_fee: float


@dataclass(frozen=True, slots=True)
class QualityRules:
    full_fee_at: float = 90.0
    no_fee_below: float = 70.0
    #: figure -> points it earns at its target
    points: Mapping[str, float] = field(default_factory=dict)
    #: figure -> target (rates 0..1; satisfaction_target on the 1..5 scale)
    targets: Mapping[str, float] = field(default_factory=dict)
    per_complaint: float = 5.0
    per_sla_breach: float = 1.0
    subcontractors: tuple[Subcontractor, ...] = ()


#: the figures the score may give points for
SCORE_FIGURES: Final = ("on_time_response", "on_time_arrival", "return_visit_rate",
                        "satisfaction", "inspections_done")


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    version: str = ""
    sla: SlaLimits = field(default_factory=SlaLimits)
    #: receivers told of SLA warnings and breaches
    sla_notify: tuple[str, ...] = ()
    escalation: Mapping[str, EscalationLevel] = field(default_factory=dict)
    rosters: Rosters = field(default_factory=Rosters)
    subscriptions: SubscriptionRules = field(default_factory=SubscriptionRules)
    visits: VisitRules = field(default_factory=VisitRules)
    inspections: InspectionRules = field(default_factory=InspectionRules)
    quality: QualityRules = field(default_factory=QualityRules)
    where: str = ""


def from_settings(settings: Any) -> ServiceSettings:
    """The file ``settings.service.file`` names (pipeline.config.Settings)."""
    return load(settings.service.file)


def load(path: str | Path | None = None) -> ServiceSettings:
    """Read the settings file (the sample admin/service.toml when ``path`` is empty)."""
    p = Path(path) if path else SAMPLE
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ServiceSettingsError(f"service settings file {str(p)!r} cannot be read "
                                   f"({exc.strerror}); fix: set HJ212_SERVICE__FILE to an "
                                   "existing file") from None
    return parse(text, where=str(p))


class _Reader:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, key: str, value: Any, fix: str) -> ServiceSettingsError:
        return ServiceSettingsError(f"service settings file {self.where!r}: {key} = "
                                    f"{value!r}; fix: {fix}")

    def table(self, data: Mapping[str, Any], key: str, allowed: Sequence[str] | None = None
              ) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, value, "make it a table")
        if allowed is not None:
            extra = sorted(set(value) - set(allowed))
            if extra:
                raise self.fail(f"{key}.{extra[0]}", value[extra[0]],
                                f"remove it; known keys: {', '.join(allowed)}")
        return value

    def number(self, data: Mapping[str, Any], key: str, default: float, low: float,
               high: float, whole: bool = False) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                whole and not isinstance(value, int)):
            raise self.fail(key, value, "a whole number" if whole else "a number")
        if not low <= value <= high:
            raise self.fail(key, value, f"between {low:g} and {high:g}")
        return float(value)

    def names(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip()
                                                  for v in value):
            raise self.fail(key, value, "a list of names, e.g. [\"a\", \"b\"]")
        return tuple(v.strip() for v in value)


def parse(text: str, *, where: str = "service.toml") -> ServiceSettings:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ServiceSettingsError(f"service settings file {where!r} is not valid TOML: "
                                   f"{exc}; fix: correct the syntax there") from None
    r = _Reader(where)
    top = ("version", "sla", "escalation", "rosters", "subscriptions", "visits",
           "inspections", "quality")
    extra = sorted(set(data) - set(top))
    if extra:
        raise r.fail(extra[0], data[extra[0]], f"remove it; known sections: {', '.join(top)}")
    s = r.table(data, "sla", ("first_contact_min", "response_min", "on_site_min",
                              "weekly_after_days", "warn_fraction", "notify"))
    esc: dict[str, EscalationLevel] = {}
    for level, spec in r.table(data, "escalation").items():
        if level not in LEVELS or level == ORDINARY:
            raise r.fail(f"escalation.{level}", spec,
                         f"use one of {', '.join(x for x in LEVELS if x != ORDINARY)}")
        t = r.table({level: spec}, level, ("receivers", "report_due_min"))
        esc[level] = EscalationLevel(
            receivers=r.names(t.get("receivers", []), f"escalation.{level}.receivers"),
            report_due_min=int(r.number(t, "report_due_min", 0, 0, 10_080, whole=True)))
    sla = SlaLimits(
        first_contact=timedelta(minutes=r.number(s, "first_contact_min", 15, 1, 1440)),
        response=timedelta(minutes=r.number(s, "response_min", 60, 1, 10_080)),
        on_site=timedelta(minutes=r.number(s, "on_site_min", 180, 1, 43_200)),
        weekly_after=timedelta(days=r.number(s, "weekly_after_days", 7, 1, 90)),
        warn_fraction=r.number(s, "warn_fraction", 0.8, 0.1, 1.0),
        report_due=tuple((level, timedelta(minutes=e.report_due_min))
                         for level, e in esc.items() if e.report_due_min))
    ro = r.table(data, "rosters", ("fallback", "regions"))
    regions: dict[str, tuple[str, ...]] = {}
    for region, people in r.table(ro, "regions").items():
        if region not in REGIONS:
            raise r.fail(f"rosters.regions.{region}", people,
                         f"a service region: one of {', '.join(REGIONS)}")
        regions[region] = r.names(people, f"rosters.regions.{region}")
    fallback = ro.get("fallback", "")
    if not isinstance(fallback, str):
        raise r.fail("rosters.fallback", fallback, "a user name")
    su = r.table(data, "subscriptions", ("stable_days", "stable_efficiency", "trial_days",
                                         "remind_days", "remind_notify"))
    remind = su.get("remind_days", [30, 7])
    if not isinstance(remind, list) or not all(isinstance(d, int) and not isinstance(
            d, bool) and 0 < d <= 366 for d in remind):
        raise r.fail("subscriptions.remind_days", remind, "a list of days, 1 to 366")
    subs = SubscriptionRules(
        stable_days=int(r.number(su, "stable_days", 7, 1, 90, whole=True)),
        stable_efficiency=r.number(su, "stable_efficiency", 0.9, 0.0, 1.0),
        trial_days=int(r.number(su, "trial_days", 30, 1, 366, whole=True)),
        remind_days=tuple(sorted(set(remind), reverse=True)),
        remind_notify=r.names(su.get("remind_notify", []), "subscriptions.remind_notify"))
    vi = r.table(data, "visits", ("after_close_days", "contract_every_months"))
    visits = VisitRules(
        after_close_days=int(r.number(vi, "after_close_days", 7, 1, 90, whole=True)),
        contract_every_months=int(r.number(vi, "contract_every_months", 3, 1, 12,
                                           whole=True)))
    ins = r.table(data, "inspections", ("platform_every_days", "site_every_days",
                                        "templates"))
    templates = {name: r.names(items, f"inspections.templates.{name}")
                 for name, items in r.table(ins, "templates").items()}
    inspections = InspectionRules(
        platform_every_days=int(r.number(ins, "platform_every_days", 30, 1, 366,
                                         whole=True)),
        site_every_days=int(r.number(ins, "site_every_days", 90, 1, 366, whole=True)),
        templates=templates)
    return ServiceSettings(version=str(data.get("version", "")), sla=sla,
                           sla_notify=r.names(s.get("notify", []), "sla.notify"),
                           escalation=esc,
                           rosters=Rosters(fallback=fallback.strip(), regions=regions),
                           subscriptions=subs, visits=visits, inspections=inspections,
                           quality=_quality(r, r.table(data, "quality")), where=where)


def _quality(r: _Reader, q: Mapping[str, Any]) -> QualityRules:
    extra = sorted(set(q) - {"full_fee_at", "no_fee_below", "points", "targets",
                             "deductions", "subcontractors"})
    if extra:
        raise r.fail(f"quality.{extra[0]}", q[extra[0]], "remove it")
    full = r.number(q, "full_fee_at", 90, 0, 100)
    none_below = r.number(q, "no_fee_below", 70, 0, 100)
    if none_below > full:
        raise r.fail("quality.no_fee_below", none_below, f"at most full_fee_at ({full:g})")
    points = {k: r.number(r.table(q, "points", SCORE_FIGURES), k, 0, 0, 100)
              for k in r.table(q, "points", SCORE_FIGURES)}
    if points and abs(sum(points.values()) - 100) > 1e-9:
        raise r.fail("quality.points", points, "points that add up to 100")
    target_keys = ("on_time_response", "on_time_arrival", "return_visit_rate",
                   "satisfaction_target", "inspections_done")
    tt = r.table(q, "targets", target_keys)
    targets = {k: r.number(tt, k, 0, 0.01, 5 if k == "satisfaction_target" else 1)
               for k in tt}
    de = r.table(q, "deductions", ("per_complaint", "per_sla_breach"))
    subs = []
    for name, spec in r.table(q, "subcontractors").items():
        t = r.table({name: spec}, name, ("regions", "monthly_fee"))
        regions = r.names(t.get("regions", []), f"quality.subcontractors.{name}.regions")
        for region in regions:
            if region not in REGIONS:
                raise r.fail(f"quality.subcontractors.{name}.regions", region,
                             f"one of {', '.join(REGIONS)}")
        subs.append(Subcontractor(name, regions, r.number(t, "monthly_fee", 0, 0, 1e9)))
    return QualityRules(full_fee_at=full, no_fee_below=none_below, points=points,
                        targets=targets,
                        per_complaint=r.number(de, "per_complaint", 5, 0, 100),
                        per_sla_breach=r.number(de, "per_sla_breach", 1, 0, 100),
                        subcontractors=tuple(subs))
