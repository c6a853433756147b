"""The stubs of the compiled module ``hj212._hj212`` agree with it in both directions.

test_hj212_parse.py checks that what the stub declares exists at run time. Here mypy's
stubtest checks the rest: a public function, class, member or constant of the compiled
module that the stub lacks, a signature or default that differs, a stub entry the module
lacks. Exceptions, each with its reason, are in core_rs/python/stubtest_allowlist.txt (an
entry that is no longer needed fails the run too). PyO3 gives every function and
constructor a text signature, which is what stubtest reads.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import hj212
import pytest

PACKAGE = Path(hj212.__file__).parent
STUB = PACKAGE / "_hj212.pyi"
ALLOWLIST = PACKAGE.parent / "stubtest_allowlist.txt"

#: the negative control: stub text renamed in a copy of the stub (the copy stays a valid
#: stub), and what stubtest must then report, in both directions
RENAMED = {
    "def crc16(": "def crc16_gone(",
    "    def crc_variants(self": "    def crc_variants_gone(self",
    "    @crc_variants.setter": "    @crc_variants_gone.setter",
}
REPORTED = (
    "hj212._hj212.crc16 is not present in stub",
    "hj212._hj212.crc16_gone is not present at runtime",
    "hj212._hj212.Framer.crc_variants is not present in stub",
    "hj212._hj212.Framer.crc_variants_gone is not present at runtime",
)


def _stubtest(workdir: Path, stubs: Path | None) -> subprocess.Popen[str]:
    """stubtest on hj212._hj212 with a mypy configuration of its own (not the project's),
    reading the stubs from `stubs` when given."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "mypy.ini"
    lines = ["[mypy]", f"cache_dir = {workdir / 'cache'}"]
    if stubs is not None:
        lines.append(f"mypy_path = {stubs}")
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-m", "mypy.stubtest", "hj212._hj212",
         "--allowlist", str(ALLOWLIST), "--mypy-config-file", str(config)],
        cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[int, str]]]:
    """Both runs at once (each takes seconds): the real stub, and a copy with members
    renamed, which must fail."""
    base = tmp_path_factory.mktemp("stubtest")
    broken = base / "stubs" / "hj212"
    broken.mkdir(parents=True)
    (broken / "__init__.pyi").write_text("", encoding="utf-8")
    text = STUB.read_text(encoding="utf-8")
    for old, new in RENAMED.items():
        assert old in text, f"{old!r} is no longer in the stub: update RENAMED"
        text = text.replace(old, new)
    (broken / "_hj212.pyi").write_text(text, encoding="utf-8")
    procs = {"real": _stubtest(base / "real", None),
             "broken": _stubtest(base / "broken", base / "stubs")}
    out = {}
    for name, proc in procs.items():
        stdout, _ = proc.communicate(timeout=300)
        out[name] = (proc.returncode, stdout)
    yield out


def test_stub_and_compiled_module_agree(runs: dict[str, tuple[int, str]]) -> None:
    code, output = runs["real"]
    assert code == 0, f"the stub and hj212._hj212 disagree (fix _hj212.pyi):\n{output}"


def test_a_member_missing_from_the_stub_fails(runs: dict[str, tuple[int, str]]) -> None:
    code, output = runs["broken"]
    assert code != 0, output
    for message in REPORTED:
        assert message in output, output


def test_every_allowlist_entry_gives_a_reason() -> None:
    reason = False
    for line in ALLOWLIST.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            reason = True
        elif line.strip():
            assert reason, f"{line}: no comment above it says why it is allowed"
        else:
            reason = False
