"""The README's settings table names every setting the platform reads."""

from __future__ import annotations

from pathlib import Path

from pipeline.config import load_settings, settings_rows

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme_table() -> None:
    text = README.read_text(encoding="utf-8")
    missing = []
    for env, _toml, _value, _source in settings_rows(load_settings(env={})):
        section, _, name = env.rpartition("__")
        # a row may list its siblings as `HJ212_PARTITIONS__FRAMES` (`__REJECTS`, ...)
        listed = f"`{env}`" in text or (bool(section) and f"`__{name}`" in text
                                          and f"`{section}__" in text)
        if not listed:
            missing.append(env)
    assert missing == []
