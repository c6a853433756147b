"""异常统计 Anomalies (page script; the page itself is dashboards/anomalies_page.py)."""

from dashboards.anomalies_page import render
from dashboards.navigation import guard

render(guard("anomalies"))
