"""The platform's settings as the web app reads them: once per server process, from the
same HJ212_* variables and HJ212_CONFIG file as every ``hj212`` command (``hj212 ui``
passes its --config on as HJ212_CONFIG)."""

from __future__ import annotations

import streamlit as st

from pipeline.config import Settings, load_settings
from pipeline.logs import configure_logging


@st.cache_resource(show_spinner=False)
def app_settings() -> Settings:
    """Read once per server process; the pages' log lines (failed queries, logins the
    database could not check) follow the platform's log settings from then on."""
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    return settings
