"""Install Debian's ``chromium`` and ``chromium-driver``, CJK fonts (``fonts-noto-cjk``,
``fonts-wqy-microhei`` for the report's PDF)
and ``poppler-utils``: the weekly report's PDF is printed by Chromium with Chinese set in
that font (dashboards/report/), the real-browser suite drives the same Chromium (without
the font every Chinese label is a row of empty boxes in its screenshots), and the tests
read the PDF back with pdftotext and pdftoppm (``make browser-install``, which ``make
run`` and ``make test`` run first).

Idempotent: when ``/usr/bin/chromium``, ``/usr/bin/chromedriver``, ``pdftotext`` and a font
for Chinese are there it only says so, in one line. Installing needs root (apt-get), as the local
ClickHouse does (``pipeline/stack/clickhouse.py``); without root it stops with the
command to run. The apt output goes to a log file, and a progress line every few seconds
shows it is alive.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from pipeline.stack.procs import StackError
from pipeline.stack.tools import run_logged

#: fonts-noto-color-emoji: the pages' status marks (🟢 🟠 🔴) in screenshots and on a
#: kiosk machine without an emoji font of its own
PACKAGES = ("chromium", "chromium-driver", "fonts-noto-cjk", "fonts-wqy-microhei",
            "fonts-noto-color-emoji", "poppler-utils")
#: the weekly report's font: TrueType outlines, which Chromium embeds in a PDF as a
#: subset CID font (Noto CJK's CFF outlines go in as Type 3 glyphs: twice the size, and
#: slower to print)
REPORT_FONT = "WenQuanYi Micro Hei"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PDFTOTEXT = Path("/usr/bin/pdftotext")
APT_FIX = "sudo apt-get update && sudo apt-get install -y " + " ".join(PACKAGES)
LOG = Path(".run") / "browser" / "apt-install.log"


def cjk_font() -> str:
    """The family of a font that covers Chinese ('' when there is none), as fontconfig
    (which Chromium asks) sees it."""
    if shutil.which("fc-list") is None:
        return ""
    out = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True,
                         timeout=30, check=False)
    families = sorted(line.split(",")[0].strip() for line in out.stdout.splitlines()
                      if line.strip())
    return families[0] if families else ""


def has_font(family: str) -> bool:
    if shutil.which("fc-list") is None:
        return False
    out = subprocess.run(["fc-list", family, "family"], capture_output=True, text=True,
                         timeout=30, check=False)
    return bool(out.stdout.strip())


EMOJI_FONT = "Noto Color Emoji"


def installed() -> bool:
    return (CHROMIUM.exists() and CHROMEDRIVER.exists() and PDFTOTEXT.exists()
            and bool(cjk_font()) and has_font(REPORT_FONT) and has_font(EMOJI_FONT))


def version(binary: Path) -> str:
    """The browser's or driver's own version line ('' when it will not say)."""
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                             timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""


def ensure_installed(log_file: Path = LOG) -> str:
    """Install the packages when missing; a one-line description of what is there."""
    if not installed():
        if shutil.which("apt-get") is None:
            raise StackError(
                f"{CHROMIUM}, {CHROMEDRIVER}, {PDFTOTEXT} or a CJK font is missing and "
                "apt-get is not here; fix: install Chromium, its matching chromedriver at "
                "those paths, poppler-utils and a font covering Chinese")
        if os.geteuid() != 0:
            raise StackError(
                f"{CHROMIUM}, {CHROMEDRIVER}, {PDFTOTEXT} or a CJK font is missing and "
                f"installing them needs root; fix: run `{APT_FIX}`, then make again")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run_logged(["apt-get", "update", "-q"], what="apt-get update", log_file=log_file,
                   env=env)
        run_logged(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                    "-o", "Dpkg::Use-Pty=0", *PACKAGES],
                   what="apt-get install " + " ".join(PACKAGES), log_file=log_file, env=env)
        if not installed():
            raise StackError(f"apt-get installed {' '.join(PACKAGES)} but {CHROMIUM}, "
                             f"{CHROMEDRIVER}, {PDFTOTEXT}, a CJK or the emoji font is "
                             "still missing; "
                             f"see {log_file}")
        return (f"installed {version(CHROMIUM)}, {version(CHROMEDRIVER)}, font "
                f"{cjk_font()} (log: {log_file})")
    return f"{version(CHROMIUM)}, {version(CHROMEDRIVER)} and font {cjk_font()} ready"


def main() -> int:
    try:
        line = ensure_installed()
    except StackError as exc:
        print(f"[browser] error: {exc}", file=sys.stderr)
        return 1
    print(f"[browser] {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
