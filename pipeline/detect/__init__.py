"""Detectors: plain objects, state in and events out, no I/O.

The Faust agents (``pipeline/stream/``) call them; tests call them directly. The shared
vocabulary is in ``model.py``.
"""
