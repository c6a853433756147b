"""What `hj212 stack status` reports about one server, and how it is shown."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field


@dataclass(slots=True)
class ServerStatus:
    """One server as seen now: where it runs, whether it is ours, and how healthy."""

    name: str  # "clickhouse" | "kafka"
    mode: str  # "local" (started by us under run_dir) | "external" (from the settings)
    endpoints: list[str]  # "127.0.0.1:9000 (native)", ...
    running: bool = False
    healthy: bool = False
    pid: int | None = None
    version: str | None = None
    detail: str = ""  # what is wrong, or what was checked
    extra: dict[str, object] = field(default_factory=dict)


def format_console(rows: Sequence[ServerStatus]) -> str:
    lines = []
    for row in rows:
        state = "healthy" if row.healthy else ("UNHEALTHY" if row.running else "DOWN")
        pid = f"pid {row.pid}" if row.pid else ("external" if row.mode == "external" else "-")
        lines.append(f"{row.name:<10} {state:<9} {row.mode:<8} {pid:<10} "
                     f"version {row.version or '?'}")
        lines.append(f"{'':<10} at {', '.join(row.endpoints)}")
        if row.detail:
            lines.append(f"{'':<10} {row.detail}")
    return "\n".join(lines)


def format_json(rows: Sequence[ServerStatus]) -> str:
    return json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=2)
