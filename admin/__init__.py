"""Service records: model, workflow rules, SLA clock, storage and Streamlit admin pages.

They import ``pipeline`` (store, settings) and nothing else of ours."""
