"""总览 Overview (page script; the page itself is dashboards/overview_page.py)."""

from dashboards.navigation import guard
from dashboards.overview_page import render

render(guard("overview"))
