"""The platform's settings as the web app reads them: once per server process, from the
same HJ212_* variables and HJ212_CONFIG file as every ``hj212`` command (``hj212 ui``
passes its --config on as HJ212_CONFIG)."""

from __future__ import annotations

import streamlit as st

from pipeline.config import Settings, load_settings


@st.cache_resource(show_spinner=False)
def app_settings() -> Settings:
    return load_settings()
