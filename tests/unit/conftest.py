"""Unit tests see no HJ212_* settings from the environment that runs them.

A developer's shell or a CI job may point the platform at other ports or servers; unit
tests assert on defaults and on the settings they set themselves.
"""

import os

import pytest


@pytest.fixture(autouse=True)
def _no_platform_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HJ212_"):
            monkeypatch.delenv(name)
