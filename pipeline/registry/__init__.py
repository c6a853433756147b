"""The station registry: stations (data loggers) and their limits, validated, in CSV and
ClickHouse."""
