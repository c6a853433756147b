"""Gateway counters and gauges, served as Prometheus text on ``gateway.metrics_port``.

Plain dicts and ints rather than a client library: the hot path bumps an int, and the
endpoint renders on request. Names follow Prometheus conventions (``_total`` counters).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field

from pipeline.logs import get_logger


@dataclass
class Metrics:
    connections_total: int = 0
    connections_open: int = 0
    connections_refused: Counter[str] = field(default_factory=Counter)  # reason
    bytes_in: int = 0
    bytes_out: int = 0
    frames: Counter[tuple[str, str]] = field(default_factory=Counter)  # (cn, outcome)
    answers: Counter[str] = field(default_factory=Counter)  # answer CN
    garbage_bytes: int = 0
    throttled_total: int = 0
    #: frames kept by the Rust front end's fast path (gateway.io = "rust"), with no Python
    #: run for their reads; also in frames_total
    front_frames_total: int = 0
    #: reports of failed accepts by the Rust front end (at most one a second)
    accept_errors_total: int = 0
    spool_depth_bytes: int = 0
    spool_depth_records: int = 0
    published: Counter[str] = field(default_factory=Counter)  # topic
    publish_errors: int = 0
    commands: Counter[str] = field(default_factory=Counter)  # outcome
    #: reads slowed / source IPs blocked for wrong passwords, and IPs blocked now
    auth_slowed_total: int = 0
    auth_blocked_total: int = 0
    auth_blocked_sources: int = 0
    #: frames accepted under a CRC variant the station is allowed: (mn, variant)
    crc_variant_frames: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: frames whose CRC matched a known variant their station is not allowed: variant
    crc_variant_rejected: Counter[str] = field(default_factory=Counter)

    def set_spool_depth(self, nbytes: int, records: int) -> None:
        self.spool_depth_bytes = nbytes
        self.spool_depth_records = records

    def render(self) -> str:
        out: list[str] = []

        def metric(name: str, kind: str, help_: str, rows: list[tuple[str, int]]) -> None:
            out.append(f"# HELP {name} {help_}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(f"{name}{labels} {value}" for labels, value in rows)

        metric("hj212_gateway_connections_total", "counter", "connections accepted",
               [("", self.connections_total)])
        metric("hj212_gateway_connections_open", "gauge", "connections open now",
               [("", self.connections_open)])
        metric("hj212_gateway_connections_refused_total", "counter",
               "connections refused by a limit",
               [(f'{{reason="{r}"}}', n) for r, n in sorted(self.connections_refused.items())])
        metric("hj212_gateway_bytes_received_total", "counter", "bytes read from loggers",
               [("", self.bytes_in)])
        metric("hj212_gateway_bytes_sent_total", "counter", "bytes written to loggers",
               [("", self.bytes_out)])
        metric("hj212_gateway_frames_total", "counter", "frames by command and outcome",
               [(f'{{cn="{cn}",outcome="{o}"}}', n)
                for (cn, o), n in sorted(self.frames.items())])
        metric("hj212_gateway_answers_total", "counter", "answers sent by answer command",
               [(f'{{cn="{cn}"}}', n) for cn, n in sorted(self.answers.items())])
        metric("hj212_gateway_front_frames_total", "counter",
               "accepted frames the Rust front end kept with no Python run for their reads",
               [("", self.front_frames_total)])
        metric("hj212_gateway_accept_errors_total", "counter",
               "seconds in which the Rust front end failed to accept a connection "
               "(descriptors exhausted and the like)", [("", self.accept_errors_total)])
        metric("hj212_gateway_garbage_bytes_total", "counter",
               "bytes outside any frame (skipped by the framer)", [("", self.garbage_bytes)])
        metric("hj212_gateway_throttled_total", "counter",
               "times a connection was paused for its MN's frame rate",
               [("", self.throttled_total)])
        metric("hj212_gateway_spool_depth_bytes", "gauge",
               "bytes in the spool not yet acknowledged by Kafka", [("", self.spool_depth_bytes)])
        metric("hj212_gateway_spool_depth_records", "gauge",
               "records in the spool not yet acknowledged by Kafka",
               [("", self.spool_depth_records)])
        metric("hj212_gateway_published_total", "counter", "records Kafka acknowledged",
               [(f'{{topic="{t}"}}', n) for t, n in sorted(self.published.items())])
        metric("hj212_gateway_publish_errors_total", "counter",
               "failed Kafka publishes (retried from the spool)", [("", self.publish_errors)])
        metric("hj212_gateway_commands_total", "counter", "downlink command outcomes",
               [(f'{{outcome="{o}"}}', n) for o, n in sorted(self.commands.items())])
        metric("hj212_gateway_auth_slowed_total", "counter",
               "reads slowed because their source IP keeps sending wrong passwords",
               [("", self.auth_slowed_total)])
        metric("hj212_gateway_auth_blocked_total", "counter",
               "times a source IP was refused for too many wrong passwords",
               [("", self.auth_blocked_total)])
        metric("hj212_gateway_auth_blocked_sources", "gauge",
               "source IPs refused now for too many wrong passwords",
               [("", self.auth_blocked_sources)])
        metric("hj212_gateway_crc_variant_frames_total", "counter",
               "frames accepted with a warning under a CRC variant their station is allowed",
               [(f'{{mn="{mn}",variant="{v}"}}', n)
                for (mn, v), n in sorted(self.crc_variant_frames.items())])
        metric("hj212_gateway_crc_variant_rejected_total", "counter",
               "frames rejected whose CRC matches a known variant their station is not allowed",
               [(f'{{variant="{v}"}}', n) for v, n in sorted(self.crc_variant_rejected.items())])
        return "\n".join(out) + "\n"


async def serve_metrics(metrics: Metrics, host: str, port: int) -> asyncio.Server:
    """A minimal HTTP endpoint: any GET returns the text exposition format."""
    log = get_logger("gateway.metrics")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            body = metrics.render().encode()
            writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()

    try:
        server = await asyncio.start_server(handle, host, port)
    except OSError as exc:
        raise OSError(f"metrics endpoint cannot listen on {host}:{port}: {exc}; fix: set "
                      "HJ212_GATEWAY__METRICS_PORT to a free port, or 0 to turn it off") from exc
    log.info("metrics.listening", host=host, port=port)
    return server
