"""Everything that moves HJ 212 data: settings, logging, time (``timebase``), the CLI, the
gateway, the stream workers, the detectors, ClickHouse access, the station registry, the
simulator and the local stack.

The codec itself is the native module ``hj212`` (built from ``core_rs/``); nothing here
re-implements framing, CRC or parsing.
"""

__all__: list[str] = []
