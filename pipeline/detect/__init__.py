"""Detectors: plain objects, state in and events out, no I/O.

The stream workers (``pipeline/stream/``) call them; tests call them directly. The shared
vocabulary is in ``model.py``, the shape and versions of a station's state in ``state.py``;
``station.DetectorBundle`` runs every rule of one station (values, episodes, missing data,
back-fill planning) and is what a worker wires. ``reference.py`` restates each value rule
plainly, as the oracle the fast path is tested against.
"""
