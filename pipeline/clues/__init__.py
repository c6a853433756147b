"""Data-authenticity clues (异常线索): signs in the stored data that they may not be true,
for the enforcement side (非现场执法), raised as alarms of class ``clue``
(``pipeline.detect.names.CLUE_RULES``) by ``hj212 clues``.

- ``settings``: the clue part of the rules (``pipeline/detect/rules/clues.toml``);
- ``model``: what the judges take and give; ``hourly``, ``daily``: the judges (pure);
- ``episodes``: findings into alarm steps, the alarms already written as memory;
- ``load``: the named queries (``pipeline/store/queries_clues.py``) into columns;
- ``sweep``: which periods, and one sweep; ``service``: the command's loop and writes.
"""
