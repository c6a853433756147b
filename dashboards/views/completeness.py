"""传输有效率 Completeness (page script; the page itself is dashboards/completeness_page.py)."""

from dashboards.completeness_page import render
from dashboards.navigation import guard

render(guard("completeness"))
