"""`pytest` with no arguments from the repository root collects every suite: test files
are imported by base name (rootdir import mode), so two files with one name cannot both
be collected."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_test_file_base_names_are_unique() -> None:
    names = Counter(p.name for p in TESTS.rglob("*.py") if p.name != "conftest.py")
    assert [n for n, count in names.items() if count > 1] == []


def test_no_test_imports_a_conftest() -> None:
    """`from conftest import X` picks whichever conftest.py was imported first (the
    integration one, from the root); shared helpers live in modules of their own."""
    pattern = re.compile(r"^\s*(from conftest import|import conftest)", re.MULTILINE)
    offenders = [str(p.relative_to(TESTS)) for p in TESTS.rglob("*.py")
                 if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_pytest_from_the_root_collects_every_suite() -> None:
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                          "-p", "no:cacheprovider"], cwd=TESTS.parent,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    collected = out.stdout
    assert "tests/unit/" in collected and "tests/integration/" in collected
