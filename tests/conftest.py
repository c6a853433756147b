"""Shared fixtures for the codec's unit tests: the standard's example frame and appendix C."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

#: the appendix C segments live with the codec, whose Rust tests read them too (and may read
#: nothing outside core_rs/)
APPENDIX_C = Path(__file__).parent.parent / "core_rs" / "tests" / "data" / "appendix_c.tsv"

#: the standard's own example frame (appendix A), CRC verified
STD_FRAME = (
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;"
    b"MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n"
)


@dataclass(frozen=True)
class AppendixRow:
    id: str
    section: str
    direction: str
    description: str
    segment: str
    note: str

    @property
    def cleaned(self) -> str:
        """The segment with the appendix's printing deviations undone (as the Rust tests do)."""
        return (
            self.segment.replace(";…&&", "&&")
            .replace("…&&", "&&")
            .replace("&& ", "&&")
            .replace(" &&", "&&")
            .replace("Flag=5CP=", "Flag=5;CP=")
            .replace("534,ST=", "534;ST=")
        )


def load_appendix_c() -> list[AppendixRow]:
    with APPENDIX_C.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [AppendixRow(**{k: (v or "") for k, v in row.items()}) for row in reader]


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
