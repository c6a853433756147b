"""ClickHouse access: the client wrapper, numbered migrations, batched sinks, named queries."""
