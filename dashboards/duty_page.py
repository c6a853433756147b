"""The duty desk page (值守台): placeholder until it is built."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import streamlit as st

from admin.accounts import User
from dashboards.labels import bi
from dashboards.scope import Scope


def render(user: User) -> None:
    st.title(bi("值守台", "Duty desk"))
    st.info(bi("此页面正在建设中。", "This page is being built."))


def calls(scope: Scope, now: datetime, mn: str, enterprise: str
          ) -> list[tuple[str, dict[str, Any]]]:
    """The named queries (with parameters) this page's default view asks."""
    return []
