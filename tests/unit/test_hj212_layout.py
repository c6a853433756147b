"""The codec's crate stands alone: its Rust sources, tests and fuzz targets read no file
outside core_rs/ (the crate can be built and tested from its own folder, and its data, such
as the appendix C segments the Python tests share, lives there)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.codec_vectors import APPENDIX_C

ROOT = Path(__file__).resolve().parents[2]
CRATE = ROOT / "core_rs"
INCLUDE = re.compile(r'include_(?:str|bytes)!\(\s*"([^"]+)"\s*\)')
#: build outputs, which are not sources
SKIP = {"target", "artifacts", "corpus", "coverage"}


def rust_files() -> list[Path]:
    return [p for p in CRATE.rglob("*.rs") if not SKIP & set(p.relative_to(CRATE).parts)]


def test_rust_includes_stay_inside_the_crate() -> None:
    files = rust_files()
    assert len(files) > 10
    outside = []
    for path in files:
        for m in INCLUDE.finditer(path.read_text(encoding="utf-8")):
            target = (path.parent / m.group(1)).resolve()
            if not target.is_relative_to(CRATE.resolve()) or not target.exists():
                outside.append(f"{path.relative_to(ROOT)}: {m.group(1)}")
    assert not outside, "\n".join(outside)


def test_appendix_c_lives_with_the_codec() -> None:
    assert APPENDIX_C.resolve().is_relative_to(CRATE.resolve())
    assert APPENDIX_C.is_file()
    assert (APPENDIX_C.parent / "appendix_c_checks.md").is_file()
