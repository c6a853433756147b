"""回访 Return visits (page script; the page itself is dashboards/visits_page.py)."""

from dashboards.navigation import guard
from dashboards.visits_page import render

render(guard("visits"))
