"""Named queries of the duty desk (值守台, dashboards/duty_page.py); registered in
pipeline/store/queries.py."""

from __future__ import annotations

from pipeline.store.query_base import NamedQuery

NAMED: tuple[NamedQuery, ...] = ()
