"""A running stack as tests and tools see it: settings plus ways to reach each server.

The integration tests' session fixture yields one of these (tests/integration/conftest.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.config import Settings
from pipeline.stack import clickhouse, kafka


@dataclass(frozen=True, slots=True)
class LiveStack:
    settings: Settings
    #: servers this session started (and will stop); empty when they already ran
    started: list[str] = field(default_factory=list)

    @property
    def kafka_bootstrap(self) -> str:
        return kafka.bootstrap_servers(self.settings)

    @property
    def clickhouse_dsn(self) -> str:
        return self.settings.clickhouse.dsn

    @property
    def clickhouse_database(self) -> str:
        return clickhouse.target(self.settings).database

    def clickhouse_http(self, sql: str, timeout: float = 10.0) -> str:
        """Run ``sql`` over the HTTP interface (needs no client package)."""
        t = clickhouse.target(self.settings)
        if self.settings.clickhouse.local or not t.native:
            host = "127.0.0.1" if self.settings.clickhouse.local else t.host
            port = self.settings.clickhouse.http_port if self.settings.clickhouse.local else t.port
            scheme = "http" if self.settings.clickhouse.local else t.scheme
            return clickhouse.http_query(host, port, sql, user=t.user, password=t.password,
                                         timeout=timeout, scheme=scheme)
        raise RuntimeError(f"HJ212_CLICKHOUSE__DSN={self.clickhouse_dsn!r} is a native DSN of "
                           f"an external server: use clickhouse_client() instead")

    def clickhouse_client(self, database: str | None = None, **kwargs: Any) -> Any:
        """A clickhouse_driver.Client on the native port (the caller disconnects it)."""
        from clickhouse_driver import Client  # type: ignore[import-untyped,import-not-found,unused-ignore]

        t = clickhouse.target(self.settings)
        host = "127.0.0.1" if self.settings.clickhouse.local else t.host
        port, _ = clickhouse.local_ports(self.settings)
        if not self.settings.clickhouse.local:
            port = t.port
        return Client(host=host, port=port, user=t.user, password=t.password,
                      database=database or t.database, **kwargs)
