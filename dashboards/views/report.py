"""周报 Weekly report (page script; the page itself is dashboards/report_page.py)."""

from dashboards.navigation import guard
from dashboards.report_page import render

render(guard("report"))
