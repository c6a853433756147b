"""One vocabulary of rules and severities (pipeline/detect/names.py), used everywhere:
every rule a module writes, the rules files and the routing file name, and every
severity they give, is in it. The rule names are found in the source itself (string
literals passed as a rule), so a module that starts writing a name outside the list
fails here; the scanner is shown to catch one."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from pipeline.detect import names, rules

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "pipeline"
DEFAULT_TOML = PIPELINE / "detect" / "rules" / "default.toml"
CLUES_TOML = PIPELINE / "detect" / "rules" / "clues.toml"
ROUTES_TOML = PIPELINE / "notify" / "routes.toml"
#: where rules are decided and written: the detectors, the worker, the clues
WRITERS = ("detect", "stream", "clues")

#: call -> (position of its rule argument, position of its severity argument or None):
#: ``out.hit(code, rule, severity, ...)``/``look``/``clean`` (values.py, reference.py),
#: ``Observation(mn, code, rule, cn, at, hit, severity, ...)`` (episodes.py),
#: ``_event(mn, rule, transition, first, last, evidence, severity, ...)`` (missing.py),
#: ``th.sev(rule)`` (a rule's severity looked up by its name)
POSITIONAL: dict[str, tuple[int, int | None]] = {
    "hit": (1, 2), "look": (1, None), "clean": (1, None), "Observation": (2, 6),
    "_event": (1, 6), "sev": (0, None)}


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) \
        else None


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def written(source: str) -> tuple[set[str], set[str]]:
    """(rules, severities) given as string literals in ``source``: ``rule=``/``severity=``
    keywords of any call, the positional rule and severity of the calls of POSITIONAL,
    and module constants named RULE or ``*_RULE``."""
    found_rules: set[str] = set()
    found_sev: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                value = _literal(kw.value)
                if value is not None and kw.arg == "rule":
                    found_rules.add(value)
                elif value is not None and kw.arg == "severity":
                    found_sev.add(value)
            at = POSITIONAL.get(_name(node.func))
            if at is not None:
                rule_i, sev_i = at
                if len(node.args) > rule_i and (v := _literal(node.args[rule_i])):
                    found_rules.add(v)
                if sev_i is not None and len(node.args) > sev_i and (
                        v := _literal(node.args[sev_i])):
                    found_sev.add(v)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                named = isinstance(target, ast.Name) and (
                    target.id == "RULE" or target.id.endswith("_RULE"))
                if named and (v := _literal(node.value)) is not None:
                    found_rules.add(v)
    return found_rules, found_sev


def _sources() -> list[Path]:
    return sorted(p for part in WRITERS for p in (PIPELINE / part).rglob("*.py"))


def test_the_scanner_catches_a_rule_outside_the_list():
    src = ('out.hit(code, "zero_run", "major", "m")\n'
           'Observation(mn, code, "constant", cn, at, True, "severe")\n'
           'AlarmEvent(mn=mn, code="", rule="missing_data", severity="warning")\n'
           'RULE = "negatives"\n')
    rules_, sevs = written(src)
    assert rules_ == {"zero_run", "constant", "missing_data", "negatives"}
    assert sevs == {"major", "severe", "warning"}
    assert rules_ - set(names.VOCABULARY) == rules_
    assert sevs - set(names.SEVERITIES) == {"severe"}


def test_every_rule_and_severity_a_module_writes_is_in_the_vocabulary():
    seen: dict[str, str] = {}
    bad: list[str] = []
    for path in _sources():
        rules_, sevs = written(path.read_text(encoding="utf-8"))
        where = str(path.relative_to(ROOT))
        for r in rules_:
            seen.setdefault(r, where)
            if r not in names.VOCABULARY:
                bad.append(f"{where}: rule {r!r}")
        bad += [f"{where}: severity {s!r}" for s in sevs if s not in names.SEVERITIES]
    assert bad == []
    # the scan reaches the writers: the value and time rules of values.py, offline and
    # missing of missing.py, the wiring detector's
    assert set(names.VALUE_RULES + names.TIME_RULES + names.STATION_RULES) <= set(seen)
    assert seen["offline"].endswith("missing.py")


def test_the_detectors_rule_names_are_the_vocabularys():
    assert set(rules.RULE_NAMES) <= set(names.VOCABULARY)
    assert set(rules.RULE_NAMES) == set(names.DETECTOR_RULES)


def test_the_rules_file_gives_every_detector_rule_a_known_severity():
    data = tomllib.loads(DEFAULT_TOML.read_text(encoding="utf-8"))
    severity = data["defaults"]["severity"]
    assert set(severity) == set(names.DETECTOR_RULES)
    assert set(severity.values()) <= set(names.SEVERITIES)
    flag = data["defaults"].get("flag_severity", {})
    assert set(flag.values()) <= set(names.SEVERITIES)


def test_the_clue_file_names_each_clue_rule_with_a_known_severity():
    if not CLUES_TOML.exists():
        pytest.skip("no clue rules file in this checkout")
    data = tomllib.loads(CLUES_TOML.read_text(encoding="utf-8"))
    clues = {k: v for k, v in data.items() if k.startswith("clue_")}
    assert set(clues) == set(names.CLUE_RULES)
    assert {v["severity"] for v in clues.values()} <= set(names.SEVERITIES)


def _route_matches(routes: list[dict[str, object]]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for r in routes:
        match = r.get("match")
        if isinstance(match, dict):
            out.append(match)
        children = r.get("routes")
        if isinstance(children, list):
            out += _route_matches(children)
    return out


def _listed(value: object) -> list[str]:
    return [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]


def test_the_routing_file_matches_only_rules_and_severities_of_the_vocabulary():
    data = tomllib.loads(ROUTES_TOML.read_text(encoding="utf-8"))
    matches = _route_matches(data.get("routes", []))
    rules_ = {r for m in matches for r in _listed(m.get("rule", []))}
    sevs = {s for m in matches for s in _listed(m.get("severity", []))}
    assert rules_ and rules_ <= set(names.VOCABULARY)  # today's names, not older ones
    assert sevs <= set(names.SEVERITIES)


def test_older_names_map_into_the_vocabulary_and_classes_cover_every_rule():
    assert {names.canonical(old) for old in names.OLD_NAMES} <= set(names.VOCABULARY)
    assert not set(names.OLD_NAMES) & set(names.VOCABULARY)
    assert set(names.CLASS_ZH) == {r.cls for r in names.VOCABULARY.values()}
    assert names.rule_class("missing_data") == "station"
    assert names.rule_class("clue_twin_stations") == "clue"
    assert names.rule_class("no_such_rule") is None


def test_the_model_comment_names_no_rule_outside_the_vocabulary():
    """model.py and the 015 migration's comments once named rules the code never wrote
    (constant, flag, missing_data); the words in quotes there must be today's."""
    text = (PIPELINE / "detect" / "model.py").read_text(encoding="utf-8")
    tree = ast.parse(text)
    quoted = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
              and isinstance(n.value, str) and n.value.replace("_", "").isalpha()
              and n.value.islower()}
    assert not quoted & set(names.OLD_NAMES)
    sql = (PIPELINE / "store" / "schema" / "015_alarm_raised.sql").read_text(
        encoding="utf-8")
    for rule in names.VALUE_RULES + names.TIME_RULES + names.STATION_RULES:
        assert rule in sql, rule
