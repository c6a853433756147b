"""Named queries of the completeness page (传输有效率, dashboards/completeness_page.py);
registered in pipeline/store/queries.py."""

from __future__ import annotations

from pipeline.store.query_base import NamedQuery

NAMED: tuple[NamedQuery, ...] = ()
