"""Named queries of the station page (站点, dashboards/station_page.py);
registered in pipeline/store/queries.py."""

from __future__ import annotations

from pipeline.store.query_base import NamedQuery

NAMED: tuple[NamedQuery, ...] = ()
