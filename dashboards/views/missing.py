"""缺失统计 Missing-data statistics (page script; the page itself is dashboards/missing_page.py)."""

from dashboards.missing_page import render
from dashboards.navigation import guard

render(guard("missing"))
