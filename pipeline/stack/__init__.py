"""Start, check and stop a local ClickHouse and Kafka under ``run_dir``, or check the
external servers the settings name. The functions here are what `hj212 stack` and the
integration tests' session fixture call; see ``control.py``."""

from pipeline.stack.control import SERVERS, UpReport, down, install, status, up
from pipeline.stack.procs import StackError

__all__ = ["SERVERS", "StackError", "UpReport", "down", "install", "status", "up"]
