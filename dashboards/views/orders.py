"""运维工单 Work orders (page script; the page itself is dashboards/orders_page.py)."""

from dashboards.navigation import guard
from dashboards.orders_page import render

render(guard("orders"))
