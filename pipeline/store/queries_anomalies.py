"""Named queries of the anomalies page (异常统计, dashboards/anomalies_page.py);
registered in pipeline/store/queries.py."""

from __future__ import annotations

from pipeline.store.query_base import NamedQuery

NAMED: tuple[NamedQuery, ...] = ()
