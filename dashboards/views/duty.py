"""值守台 Duty desk (page script; the page itself is dashboards/duty_page.py)."""

from dashboards.duty_page import render
from dashboards.navigation import guard

render(guard("duty"))
