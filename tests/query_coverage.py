"""Where each named query is checked against answers derived in plain Python: the store's
seed (tests/store_seed.py) and the pages' own seeds, each in a database of its own (a
page's seed would change the store seed's answers for queries over every station).

``page_groups()`` gives, per page seed, its seed function and its checks as (id, query,
params, expected rows); tests/unit runs them on chDB (current ClickHouse) and
tests/integration/test_page_queries_seeded.py on the local 18.16, and
``checked_queries()`` lets both suites require that no named query goes unchecked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests import store_seed

Check = tuple[str, str, dict[str, Any], list[dict[str, Any]]]


@dataclass(frozen=True)
class PageGroup:
    name: str
    seed: Callable[[Any], None]
    checks: list[Check]


def failing(ch: Any, group: PageGroup) -> list[str]:
    """The ids of ``group``'s checks that ``ch`` (seeded by ``group.seed``) answers
    otherwise than expected."""
    from pipeline.store import queries

    canon = store_seed.canon_rows
    return [cid for cid, name, params, want in group.checks
            if canon(queries.run(ch, name, **params)) != canon(want)]


def page_groups() -> list[PageGroup]:
    from tests.unit import completeness_seed, duty_seed, station_seed
    from tests.unit import test_dashboards_completeness as completeness
    from tests.unit import test_dashboards_missing as missing
    from tests.unit import test_report_queries as report

    return [
        PageGroup("completeness and missing data", completeness_seed.seed,
                  [*completeness.CHECKS, *missing.CHECKS]),
        PageGroup("station and anomalies", station_seed.seed,
                  [(c.id, c.query, c.params, c.expected) for c in station_seed.checks()]),
        PageGroup("weekly report", report.seed, list(report.CHECKS)),
        PageGroup("duty desk", duty_seed.seed, list(duty_seed.checks())),
    ]


def checked_queries() -> set[str]:
    """The named queries some seeded check covers."""
    names = {c.query for c in store_seed.query_checks()}
    for group in page_groups():
        names |= {c[1] for c in group.checks}
    # the one-row raw frame is read by station_seed's frame checks (raw_of), by the key
    # that station_frames lists
    names.add("station_frame_raw")
    return names
