"""Named queries of the weekly report (周报, dashboards/report/);
registered in pipeline/store/queries.py."""

from __future__ import annotations

from pipeline.store.query_base import NamedQuery

NAMED: tuple[NamedQuery, ...] = ()
