"""Streamlit pages for analysts and the duty centre: read-only views over ClickHouse.

They import ``pipeline`` (named queries, settings) and nothing else of ours."""
