"""Shared fixtures: the codec's test vectors (tests/codec_vectors.py) and a clean environment
for unit tests."""

from __future__ import annotations

import os

import pytest

from tests.codec_vectors import STD_FRAME, AppendixRow, load_appendix_c


@pytest.fixture(scope="session")
def std_frame() -> bytes:
    return STD_FRAME


@pytest.fixture(scope="session")
def appendix_c() -> dict[str, AppendixRow]:
    rows = load_appendix_c()
    assert len(rows) >= 150
    return {r.id: r for r in rows}


@pytest.fixture(autouse=True)
def _no_platform_settings_from_the_environment(request: pytest.FixtureRequest,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests see no HJ212_* settings of the shell or CI job that runs them: they
    assert on defaults and on what they set themselves. Integration tests keep them, as
    they are how a run points the stack at other ports or servers."""
    if request.node.get_closest_marker("integration") is not None:
        return
    for name in list(os.environ):
        if name.startswith("HJ212_"):
            monkeypatch.delenv(name)
