"""Stream workers: from Kafka into ClickHouse and through the detectors.

``app.py`` is the runtime (aiokafka; it says why not Faust), ``agents.py`` wires batches
to the sinks, the station table and the detectors of ``pipeline/detect/``; no business
rule lives here.
"""
