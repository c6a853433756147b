"""质量考核 Quality figures (page script; the page itself is dashboards/quality_page.py)."""

from dashboards.navigation import guard
from dashboards.quality_page import render

render(guard("quality"))
