"""The routing file (TOML) made into a route tree, and an alarm matched to its receivers.
Pure: text in, objects out.

Alertmanager's model, adapted: routes are tried in order, the first that matches takes
the alarm unless it says ``continue = true`` (then the next ones are tried as well); a
route with child routes (``[[routes.routes]]``) hands the alarm to the first matching
child, and keeps it itself when none matches; an alarm no route takes goes to
``[root] receivers``. Every route inherits the grouping and timing parameters of its
parent (``[defaults]`` at the top) unless it sets them.

Matchers (all must hold; a list means any of its values): region, severity, rule, mn,
code, enterprise (strings or lists of strings) and service_365 (true/false). Rules are
compared under their names in ``pipeline/detect/names.py`` (``canonical``: an alarm row
written under an older name still matches). Whether an
enterprise has the 365 service is read from ``[service365] enterprises`` of this file:
the registry has no such attribute yet (stations carry enterprise, region, province).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from typing import Any, Final

from pipeline.detect.names import canonical
from pipeline.notify.model import RECEIVER_KINDS, SEVERITIES, Alarm, Receiver

SAMPLE: Final = Path(__file__).parent / "routes.toml"
MATCH_KEYS: Final = ("region", "severity", "rule", "mn", "code", "enterprise", "service_365")
_PARAM_KEYS: Final = ("group_by", "group_wait_s", "group_interval_s", "repeat_interval_s",
                      "send_resolved", "escalate_after_min", "escalate_to", "quiet_hours")
#: robots' documented limit: 20 messages a minute per robot
ROBOT_PER_MINUTE: Final = 20


class RoutingError(ValueError):
    """The routing file is wrong; the message names the file, the entry and the fix."""


@dataclass(frozen=True, slots=True)
class RouteParams:
    group_by: str = "station"  # station | enterprise
    group_wait_s: float = 30.0
    group_interval_s: float = 300.0
    repeat_interval_s: float = 4 * 3600.0
    send_resolved: bool = True
    escalate_after_min: float = 0.0  # 0: no escalation
    escalate_to: str = ""
    quiet_hours: bool = True  # hold quiet severities during [quiet_hours]


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    match: Mapping[str, Any]
    receivers: tuple[str, ...]
    params: RouteParams
    cont: bool = False
    routes: tuple[Route, ...] = ()

    def matches(self, labels: Mapping[str, Any]) -> bool:
        for key, want in self.match.items():
            have = labels.get(key)
            if key == "service_365":
                if bool(have) != want:
                    return False
            elif key == "rule":
                if canonical(str(have or "")) not in want:
                    return False
            elif have not in want:
                return False
        return True


@dataclass(frozen=True, slots=True)
class Target:
    """One receiver an alarm goes to, through which route, with that route's timing."""

    route: str
    receiver: str
    params: RouteParams

    def group_key(self, alarm: Alarm) -> str:
        if self.params.group_by == "enterprise" and alarm.enterprise:
            return f"ent:{alarm.enterprise}"
        return f"mn:{alarm.mn}"


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: time | None = None  # None: no quiet hours
    end: time | None = None
    severities: frozenset[str] = frozenset({"info", "warning"})


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    max_attempts: int = 8
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 300.0
    #: wait after a robot says "too many messages" (WeCom 45009, DingTalk 130101)
    rate_limited_wait_s: float = 60.0
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class Routing:
    version: str
    receivers: Mapping[str, Receiver]
    routes: tuple[Route, ...]
    root: tuple[str, ...]
    defaults: RouteParams
    quiet: QuietHours = field(default_factory=QuietHours)
    delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    service365: frozenset[str] = frozenset()

    def targets(self, alarm: Alarm) -> list[Target]:
        """Every (route, receiver) the alarm goes to, in routing order, without repeats
        of a receiver (the first route to name it wins)."""
        labels = alarm.labels()
        out: list[Target] = []
        if not _walk(self.routes, labels, out):
            out.extend(Target("root", r, self.defaults) for r in self.root)
        seen: set[str] = set()
        unique = []
        for t in out:
            if t.receiver not in seen:
                seen.add(t.receiver)
                unique.append(t)
        return unique

    def with_365(self, alarm: Alarm) -> Alarm:
        return replace(alarm, service_365=alarm.enterprise in self.service365)

    def is_quiet(self, severity: str, clock: time) -> bool:
        """Whether an alarm of ``severity`` is held at the CST wall-clock ``clock``."""
        q = self.quiet
        if q.start is None or q.end is None or severity not in q.severities:
            return False
        if q.start <= q.end:
            return q.start <= clock < q.end
        return clock >= q.start or clock < q.end


def _walk(routes: Sequence[Route], labels: Mapping[str, Any], out: list[Target]) -> bool:
    matched = False
    for route in routes:
        if not route.matches(labels):
            continue
        matched = True
        if not _walk(route.routes, labels, out):
            out.extend(Target(route.name, r, route.params) for r in route.receivers)
        if not route.cont:
            break
    return matched


# --- loading -----------------------------------------------------------------------------


def load_routing(path: str | Path | None = None) -> Routing:
    """Read the routing file (the sample routes.toml when ``path`` is empty)."""
    p = Path(path) if path else SAMPLE
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RoutingError(f"routing file {str(p)!r} cannot be read ({exc.strerror}); fix: "
                           "set HJ212_NOTIFY__ROUTES to an existing file") from None
    return parse_routing(text, where=str(p))


def parse_routing(text: str, *, where: str = "routes.toml") -> Routing:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RoutingError(f"routing file {where!r} is not valid TOML: {exc}; fix: "
                           "correct the syntax there") from None
    _only(data, ("version", "defaults", "quiet_hours", "delivery", "service365",
                 "receivers", "routes", "root"), where, "the top level")
    receivers = {name: _receiver(name, spec, where)
                 for name, spec in _table(data, "receivers", where).items()}
    defaults = _params(_table(data, "defaults", where), RouteParams(), where, "[defaults]")
    root_tbl = _table(data, "root", where)
    _only(root_tbl, ("receivers",), where, "[root]")
    root = _names(root_tbl.get("receivers", []), where, "[root] receivers")
    routes = tuple(_route(r, i, defaults, where, "routes")
                   for i, r in enumerate(_array(data, "routes", where)))
    routing = Routing(version=str(data.get("version", "")), receivers=receivers,
                      routes=routes, root=root, defaults=defaults,
                      quiet=_quiet(_table(data, "quiet_hours", where), where),
                      delivery=_delivery(_table(data, "delivery", where), where),
                      service365=frozenset(_names(
                          _table(data, "service365", where).get("enterprises", []), where,
                          "[service365] enterprises")))
    _check_names(routing, where)
    return routing


def _only(tbl: Mapping[str, Any], allowed: Sequence[str], where: str, what: str) -> None:
    extra = sorted(set(tbl) - set(allowed))
    if extra:
        raise RoutingError(f"routing file {where!r}: unknown key {extra[0]!r} in {what}; "
                           f"fix: use one of {', '.join(allowed)}")


def _table(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    v = data.get(key, {})
    if not isinstance(v, dict):
        raise RoutingError(f"routing file {where!r}: {key} must be a table ([{key}])")
    return v


def _array(data: Mapping[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    v = data.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise RoutingError(f"routing file {where!r}: {key} must be an array of tables "
                           f"([[{key}]])")
    return v


def _names(v: Any, where: str, what: str) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise RoutingError(f"routing file {where!r}: {what} must be a list of names, got "
                           f"{v!r}")
    return tuple(v)


def _receiver(name: str, spec: Any, where: str) -> Receiver:
    what = f"[receivers.{name}]"
    if not isinstance(spec, dict):
        raise RoutingError(f"routing file {where!r}: {what} must be a table")
    _only(spec, ("kind", "title", "url", "to", "per_minute", "max_lines"), where, what)
    kind = spec.get("kind")
    if kind not in RECEIVER_KINDS:
        raise RoutingError(f"routing file {where!r}: {what} kind = {kind!r}; fix: one of "
                           f"{', '.join(RECEIVER_KINDS)}")
    if kind == "webhook" and not spec.get("url"):
        raise RoutingError(f"routing file {where!r}: {what} is a webhook without url; fix: "
                           "url = \"https://...\"")
    to = _names(spec.get("to", []), where, f"{what} to")
    if kind == "mail" and not to:
        raise RoutingError(f"routing file {where!r}: {what} is a mail receiver without "
                           "addresses; fix: to = [\"duty@example.com\"]")
    robot = kind in ("wecom", "dingtalk")
    per_minute = int(spec.get("per_minute", ROBOT_PER_MINUTE if robot else 0))
    if robot and not 0 < per_minute <= ROBOT_PER_MINUTE:
        raise RoutingError(f"routing file {where!r}: {what} per_minute = {per_minute}; a "
                           f"robot takes at most {ROBOT_PER_MINUTE} a minute; fix: 1 to "
                           f"{ROBOT_PER_MINUTE}")
    return Receiver(name=name, kind=kind, title=str(spec.get("title", name)),
                    url=str(spec.get("url", "")), to=to, per_minute=per_minute,
                    max_lines=int(spec.get("max_lines", 20)))


def _params(tbl: Mapping[str, Any], parent: RouteParams, where: str, what: str
            ) -> RouteParams:
    kw: dict[str, Any] = {}
    for key in _PARAM_KEYS:
        if key not in tbl:
            continue
        v = tbl[key]
        if key == "group_by":
            if v not in ("station", "enterprise"):
                raise RoutingError(f"routing file {where!r}: {what} group_by = {v!r}; fix: "
                                   "\"station\" or \"enterprise\"")
        elif key in ("send_resolved", "quiet_hours"):
            if not isinstance(v, bool):
                raise RoutingError(f"routing file {where!r}: {what} {key} = {v!r}; fix: "
                                   "true or false")
        elif key == "escalate_to":
            v = str(v)
        else:
            if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
                raise RoutingError(f"routing file {where!r}: {what} {key} = {v!r}; fix: a "
                                   "number of at least 0")
            v = float(v)
        kw[key] = v
    out = replace(parent, **kw)
    if out.group_interval_s <= 0 or out.repeat_interval_s <= 0:
        raise RoutingError(f"routing file {where!r}: {what} group_interval_s and "
                           "repeat_interval_s must be above 0; fix: e.g. 300 and 14400")
    return out


def _route(spec: Mapping[str, Any], i: int, parent: RouteParams, where: str, path: str
           ) -> Route:
    name = str(spec.get("name") or f"{path}[{i}]")
    what = f"route {name!r}"
    _only(spec, ("name", "match", "receivers", "continue", "routes", *_PARAM_KEYS),
          where, what)
    raw = spec.get("match", {})
    if not isinstance(raw, dict):
        raise RoutingError(f"routing file {where!r}: {what} match must be a table")
    match: dict[str, Any] = {}
    for key, v in raw.items():
        if key not in MATCH_KEYS:
            raise RoutingError(f"routing file {where!r}: {what} matches on unknown label "
                               f"{key!r}; fix: one of {', '.join(MATCH_KEYS)}")
        if key == "service_365":
            if not isinstance(v, bool):
                raise RoutingError(f"routing file {where!r}: {what} service_365 = {v!r}; "
                                   "fix: true or false")
            match[key] = v
        else:
            vals = _names(v, where, f"{what} match.{key}")
            if key == "severity" and (bad := [s for s in vals if s not in SEVERITIES]):
                raise RoutingError(f"routing file {where!r}: {what} severity {bad[0]!r}; "
                                   f"fix: one of {', '.join(SEVERITIES)}")
            if key == "rule":
                # one vocabulary (pipeline/detect/names.py): an older name in the file
                # and an older row's name (missing_data, constant, flag) both mean the
                # rule's name today
                vals = tuple(canonical(v) for v in vals)
            match[key] = frozenset(vals)
    params = _params(spec, parent, where, what)
    children = tuple(_route(c, j, params, where, f"{name}.routes")
                     for j, c in enumerate(_array(spec, "routes", where)))
    receivers = _names(spec.get("receivers", []), where, f"{what} receivers")
    if not receivers and not children:
        raise RoutingError(f"routing file {where!r}: {what} has neither receivers nor "
                           "routes; fix: receivers = [\"...\"]")
    return Route(name=name, match=match, receivers=receivers, params=params,
                 cont=bool(spec.get("continue", False)), routes=children)


def _clock(v: Any, where: str, what: str) -> time:
    try:
        hh, mm = str(v).split(":")
        return time(int(hh), int(mm))
    except ValueError:
        raise RoutingError(f"routing file {where!r}: [quiet_hours] {what} = {v!r}; fix: "
                           "\"HH:MM\" in China Standard Time, e.g. \"22:00\"") from None


def _quiet(tbl: Mapping[str, Any], where: str) -> QuietHours:
    _only(tbl, ("start", "end", "severities"), where, "[quiet_hours]")
    if not tbl:
        return QuietHours()
    sev = frozenset(_names(tbl.get("severities", ["info", "warning"]), where,
                           "[quiet_hours] severities"))
    if "critical" in sev:
        raise RoutingError(f"routing file {where!r}: [quiet_hours] holds critical alarms; "
                           "fix: critical is always sent, remove it from severities")
    return QuietHours(_clock(tbl.get("start"), where, "start"),
                      _clock(tbl.get("end"), where, "end"), sev)


def _delivery(tbl: Mapping[str, Any], where: str) -> DeliveryPolicy:
    _only(tbl, ("max_attempts", "backoff_base_s", "backoff_cap_s", "rate_limited_wait_s",
                "timeout_s"), where, "[delivery]")
    d = DeliveryPolicy()
    try:
        return DeliveryPolicy(
            max_attempts=max(1, int(tbl.get("max_attempts", d.max_attempts))),
            backoff_base_s=float(tbl.get("backoff_base_s", d.backoff_base_s)),
            backoff_cap_s=float(tbl.get("backoff_cap_s", d.backoff_cap_s)),
            rate_limited_wait_s=float(tbl.get("rate_limited_wait_s",
                                              d.rate_limited_wait_s)),
            timeout_s=float(tbl.get("timeout_s", d.timeout_s)))
    except (TypeError, ValueError):
        raise RoutingError(f"routing file {where!r}: [delivery] values must be numbers"
                           ) from None


def _all_routes(routes: Sequence[Route]) -> list[Route]:
    out: list[Route] = []
    for r in routes:
        out.append(r)
        out.extend(_all_routes(r.routes))
    return out


def _check_names(routing: Routing, where: str) -> None:
    known = routing.receivers
    refs = [("[root] receivers", n) for n in routing.root]
    params = [("[defaults]", routing.defaults)]
    for r in _all_routes(routing.routes):
        refs += [(f"route {r.name!r}", n) for n in r.receivers]
        params.append((f"route {r.name!r}", r.params))
    refs += [(f"{w} escalate_to", p.escalate_to) for w, p in params if p.escalate_to]
    for w, p in params:
        if p.escalate_after_min > 0 and not p.escalate_to:
            raise RoutingError(f"routing file {where!r}: {w} escalates after "
                               f"{p.escalate_after_min:g} min to nobody; fix: escalate_to = "
                               "\"<receiver>\"")
    for what, name in refs:
        if name not in known:
            raise RoutingError(f"routing file {where!r}: {what} names receiver {name!r}, "
                               f"which is not declared; fix: add [receivers.{name}] or use "
                               f"one of {', '.join(sorted(known)) or '(none declared)'}")
    if not routing.root:
        raise RoutingError(f"routing file {where!r}: [root] receivers is empty, so an alarm "
                           "no route takes would reach nobody; fix: [root] receivers = "
                           "[\"duty_centre\"]")
