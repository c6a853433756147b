# HJ 212 telemetry platform: `make run` and `make test` work from a fresh clone.
#
# The first call bootstraps what is missing, each step printing one "[bootstrap] ..." line:
#   .venv (python3 -m venv), pip upgraded, `pip install -e '.[dev]'` (maturin builds
#   core_rs/ in release mode into the module `hj212`), and a .pth file (below).
# File targets and stamps make it idempotent: a warm `make test` reinstalls nothing. The
# install stamp depends on pyproject.toml and on every input of the Rust build, so editing
# core_rs/src/**/*.rs, core_rs/Cargo.toml, core_rs/data/* or Cargo.toml rebuilds the
# extension on the next make.
#
# Why the .pth file: maturin's editable install puts only core_rs/python on sys.path, but
# the packages `pipeline`, `dashboards` and `admin` live at the repo root. The bootstrap
# writes $(PTH_FILE) into the venv's site-packages holding this repo's absolute path, so the
# console script `hj212` (pipeline.cli:main) works from any directory. Moving the clone
# means `make clean` (a venv is tied to its path anyway).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := $(VENV)/.stamps
PTH_FILE := hj212_platform_root.pth
FUZZ_SECONDS ?= 20
FUZZ_TARGETS ?= parse framer envelope kafka
FUZZ_DIR := core_rs/fuzz
DEMO_ARGS ?=
RUN_ARGS ?=

export PIP_DISABLE_PIP_VERSION_CHECK := 1
ifneq ($(CI),)
# progress bars in a CI log are pages of noise
export PIP_PROGRESS_BAR := off
endif

# Every input of the native build; `find` runs at each make, so new .rs files count too.
RUST_INPUTS := Cargo.toml $(wildcard Cargo.lock) core_rs/Cargo.toml $(wildcard core_rs/build.rs) \
	$(shell find core_rs/src -name '*.rs' 2>/dev/null) $(wildcard core_rs/data/*)

.PHONY: help bootstrap run demo test test-rust test-python fuzz-check fuzz-install fuzz-smoke bench lint \
	browser-install \
	clean stack-install stack-up stack-down stack-status stack-clean

help:
	@echo "make run         bootstrap, then the whole platform: stack, migrations, gateway, workers"
	@echo "                 and a simulated fleet, with a live summary (e.g. RUN_ARGS='--seconds 60')"
	@echo "make demo        the codec alone: a simulated fleet's bytes through hj212.Framer"
	@echo "                 e.g. make demo DEMO_ARGS='--seconds 10 --rate 5000'"
	@echo "make test        bootstrap, then rustfmt, clippy, cargo test, ruff, mypy, pytest (unit, then integration"
	@echo "                 on the local stack, then the web app in Chromium) and $(FUZZ_SECONDS) s of fuzzing per target"
	@echo "make browser-install  Debian's chromium, chromium-driver, a CJK font and poppler-utils (needs root)"
	@echo "make bench       python benchmarks/parse.py"
	@echo "make lint        ruff and mypy"
	@echo "make fuzz-smoke  only the short fuzz run (FUZZ_SECONDS=$(FUZZ_SECONDS))"
	@echo "make clean       remove .venv, build outputs and caches (keeps .run/ data)"
	@echo "make stack-up    start the local ClickHouse and Kafka (hj212 stack up); also"
	@echo "                 stack-down, stack-status, stack-install, stack-clean (down, drop .run data)"

# --- bootstrap --------------------------------------------------------------------------

bootstrap: $(STAMPS)/installed

$(STAMPS)/venv:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "[bootstrap] error: '$(PYTHON)' is missing or older than Python 3.11;" \
	       "install Python 3.11+ or run: make PYTHON=/path/to/python3.11 ..."; exit 1; }
	@echo "[bootstrap] creating $(VENV) with $$($(PYTHON) --version)"
	@$(PYTHON) -m venv $(VENV)
	@echo "[bootstrap] upgrading pip"
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/installed: $(STAMPS)/venv pyproject.toml $(RUST_INPUTS)
	@command -v cargo >/dev/null || { \
	  echo "[bootstrap] error: cargo not found; install Rust (rustup) and retry"; exit 1; }
	@echo "[bootstrap] pip install -e '.[dev]': Python packages, and core_rs built by maturin" \
	      "(release build; the first one takes a few minutes)"
	@$(BIN)/python -m pip install -e '.[dev]'
	@echo "[bootstrap] writing $(PTH_FILE) (repo root on the venv's sys.path)"
	@$(BIN)/python -c 'import pathlib, sys, sysconfig; \
	  p = pathlib.Path(sysconfig.get_paths()["purelib"]) / sys.argv[1]; \
	  p.write_text(sys.argv[2] + "\n")' $(PTH_FILE) "$(CURDIR)"
	@$(BIN)/python -c 'import hj212, pipeline; print("[bootstrap] hj212", hj212.__version__, "ready")'
	@mkdir -p $(STAMPS) && touch $@

# --- what people run --------------------------------------------------------------------

run: bootstrap browser-install
	@echo "[run] hj212 run $(RUN_ARGS)   (stack, migrations, gateway, workers, simulated fleet; Ctrl-C stops it)"
	@$(BIN)/hj212 run $(RUN_ARGS)

# the codec alone: a simulated fleet's bytes through hj212.Framer, no servers
demo: bootstrap
	@$(BIN)/hj212 demo $(DEMO_ARGS)

# one step after the other even under make -j: each needs the machine's two cores
test: bootstrap
	@$(MAKE) --no-print-directory test-rust
	@$(MAKE) --no-print-directory test-python
	@$(MAKE) --no-print-directory fuzz-smoke
	@echo "[test] all suites passed"

test-rust:
	@echo "[test] cargo fmt --check, clippy, cargo test --workspace"
	@cargo fmt --all --check
	@cargo clippy --workspace --all-targets --quiet -- -D warnings
	@cargo test --workspace

# pytest exits 5 when it collects nothing; that fails make here, as it should.
# Unit tests first (no servers); then the integration tests, whose session fixture
# (tests/integration/conftest.py) starts the local stack once and stops it afterwards
# (a stack that already ran is left running). `stack install` before them makes the
# slow first-time steps (apt-get, Maven) visible here rather than inside pytest. Last the
# real-browser suite (tests/browser): the web app (`hj212 ui`) on the local stack with
# seeded data, driven in Debian's Chromium; its screenshots land in
# tests/browser/screenshots/.
test-python: bootstrap browser-install
	@echo "[test] ruff check ."
	@$(BIN)/ruff check .
	@echo "[test] mypy (strict) pipeline dashboards admin"
	@$(BIN)/mypy pipeline dashboards admin
	@echo "[test] pytest -q tests (unit: everything but tests/integration and tests/browser)"
	@$(BIN)/pytest -q tests --ignore=tests/integration --ignore=tests/browser
	@echo "[test] hj212 stack install (ClickHouse package and Kafka jars, when missing)"
	@$(BIN)/hj212 stack install
	@echo "[test] pytest -q tests/integration (starts and stops the local stack)"
	@$(BIN)/pytest -q tests/integration
	@echo "[test] pytest -q tests/browser (the web app in Chromium; screenshots in tests/browser/screenshots/)"
	@$(BIN)/pytest -q tests/browser

# Chromium, its driver, a CJK font and poppler-utils (the weekly report's PDF, the browser suite): one line when they are there;
# apt-get as root when not (pipeline/stack/browser.py), else the command to run.
browser-install: bootstrap
	@$(BIN)/python -m pipeline.stack.browser

fuzz-install: fuzz-check
	@cargo fuzz --help >/dev/null 2>&1 || { \
	  echo "[bootstrap] installing cargo-fuzz (cargo install cargo-fuzz --locked)"; \
	  cargo install cargo-fuzz --locked; }

fuzz-check:
	@test -f $(FUZZ_DIR)/Cargo.toml || { \
	  echo "[fuzz] error: $(FUZZ_DIR)/Cargo.toml is missing: the fuzz crate (targets" \
	       "$(FUZZ_TARGETS)) is part of the codec; restore it from git"; exit 1; }

# each target (FUZZ_TARGETS) for FUZZ_SECONDS, from the committed corpus; a crash fails the
# run and leaves its input under core_rs/fuzz/artifacts/
fuzz-smoke: fuzz-install
	@if cargo +nightly --version >/dev/null 2>&1; then tc=+nightly; boot=; \
	else tc=; boot=RUSTC_BOOTSTRAP=1; \
	  echo "[fuzz] no nightly toolchain: using stable with RUSTC_BOOTSTRAP=1"; fi; \
	for target in $(FUZZ_TARGETS); do \
	  echo "[fuzz] cargo $$tc fuzz run $$target for $(FUZZ_SECONDS) s"; \
	  env $$boot cargo $$tc fuzz run $$target --fuzz-dir $(FUZZ_DIR) -- \
	    -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 || exit 1; \
	done

bench: bootstrap
	@test -f benchmarks/parse.py || { echo "[bench] error: benchmarks/parse.py does not exist yet"; exit 1; }
	@$(BIN)/python benchmarks/parse.py

lint: bootstrap
	@echo "[lint] ruff check ."
	@$(BIN)/ruff check .
	@echo "[lint] mypy pipeline dashboards admin"
	@$(BIN)/mypy pipeline dashboards admin

# --- local stack (pipeline/stack/) ------------------------------------------------------

stack-install: bootstrap
	@$(BIN)/hj212 stack install

stack-up: bootstrap
	@$(BIN)/hj212 stack up

stack-down: bootstrap
	@$(BIN)/hj212 stack down

stack-status: bootstrap
	@$(BIN)/hj212 stack status

# the data of the local servers, and the Kafka jars (refetched from ~/.m2 on the next up)
stack-clean:
	@if [ -x $(BIN)/hj212 ]; then $(BIN)/hj212 stack down; fi
	rm -rf .run/clickhouse .run/kafka

clean:
	rm -rf $(VENV) target $(FUZZ_DIR)/target .pytest_cache .ruff_cache .mypy_cache
	rm -f core_rs/python/hj212/*.so
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
