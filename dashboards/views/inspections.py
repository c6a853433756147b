"""巡检 Inspections (page script; the page itself is dashboards/inspections_page.py)."""

from dashboards.inspections_page import render
from dashboards.navigation import guard

render(guard("inspections"))
