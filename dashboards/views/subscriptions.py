"""365服务 Subscriptions (page script; the page itself is dashboards/subscriptions_page.py)."""

from dashboards.navigation import guard
from dashboards.subscriptions_page import render

render(guard("subscriptions"))
