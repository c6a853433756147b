"""Everything that moves HJ 212 data: settings, logging, CLI, simulator, and (later) the
gateway, stream workers, detectors, ClickHouse access and the local stack.

The codec itself is the native module ``hj212`` (built from ``core_rs/``); nothing here
re-implements framing, CRC or parsing.
"""

__all__: list[str] = []
