"""投诉 Complaints (page script; the page itself is dashboards/complaints_page.py)."""

from dashboards.complaints_page import render
from dashboards.navigation import guard

render(guard("complaints"))
