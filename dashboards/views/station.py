"""站点 Station (page script; the page itself is dashboards/station_page.py)."""

from dashboards.navigation import guard
from dashboards.station_page import render

render(guard("station"))
