"""Named queries of the missing-data statistics page (缺失统计, dashboards/missing_page.py);
registered in pipeline/store/queries.py."""

from __future__ import annotations

from pipeline.store.query_base import NamedQuery

NAMED: tuple[NamedQuery, ...] = ()
