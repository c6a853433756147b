"""Event-sourced records with one writer per record (DESIGN.md, "people's changes").

A record (an alarm's people-side lifecycle, later a work order, an inspection, ...) is
an append-only list of events in ClickHouse (``ledger_events``); its current state is
derived from them. A change names the sequence number it saw; it is appended only when
that is still the record's last one, so two people acting on the same record at the same
moment end in one appended change and one clear conflict, never a lost edit.

ClickHouse has no compare-and-set, so the check and the append happen in one place: a
change is published to the Kafka topic ``hj212.ledger`` keyed by record, and the ledger
writer (``hj212 ledger``; one consumer per partition) checks the expected sequence and
the stream's own rule (entry-point group ``hj212.ledger_streams``: stream name -> a pure
``check(history, change) -> refusal text or None``), appends, and writes the outcome to
``ledger_replies``, which the submitter waits for. A change is never lost: it stays in
Kafka until the writer has answered it, and answering it again after a restart gives
the same reply (keyed by the change's request id).

Modules: model.py (the records, pure), writer.py (the service), client.py (submit and
wait; history), cli.py (``hj212 ledger``).
"""
