"""The `hj212` command line, run in-process through click's CliRunner."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import hj212
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.demo import run_demo
from pipeline.simulator import Corpus

# the standard's own example (section 6.3), CRC verified
GOOD = (b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
        b"Flag=5;CP=&&RtdInterval=30&&1C80\r\n")
BAD_CRC = GOOD.replace(b"1C80\r\n", b"1C81\r\n")
SEGMENT = GOOD[6:-6].decode()

COMMANDS = ["demo", "parse", "crc", "codes", "settings"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_group_help_lists_every_command(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    for name in COMMANDS:
        assert name in result.output
    assert "--config" in result.output and "--log-format" in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(runner: CliRunner, command: str) -> None:
    result = runner.invoke(main, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert f"hj212 {command}" in result.output or command in result.output


def test_help_works_even_with_a_bad_setting(runner: CliRunner) -> None:
    result = runner.invoke(main, ["parse", "--help"], env={"HJ212_GATEWAY__PORT": "x"})
    assert result.exit_code == 0


def test_bad_setting_is_reported_not_a_traceback(runner: CliRunner) -> None:
    result = runner.invoke(main, ["settings"], env={"HJ212_GATEWAY__PORT": "x"})
    assert result.exit_code == 1
    assert "HJ212_GATEWAY__PORT='x'" in result.output
    assert "Traceback" not in result.output


def test_parse_good_frame(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "frames.txt"
    path.write_bytes(GOOD)
    result = runner.invoke(main, ["parse", str(path)])
    assert result.exit_code == 0, result.output
    assert "line 1: OK" in result.output
    assert "CN=1062" in result.output
    assert "MN=010000A8900016F000169DC0" in result.output
    assert "RtdInterval=30" in result.output


def test_parse_bad_frame_shows_kind_field_value_offset(runner: CliRunner) -> None:
    result = runner.invoke(main, ["parse", "-"], input=GOOD + BAD_CRC)
    assert result.exit_code == 1
    assert "line 1: OK" in result.output
    assert "line 2: REJECTED kind=crc" in result.output
    assert "offset=" in result.output
    assert "qn_rtn=9" in result.output


def test_parse_json_lines(runner: CliRunner) -> None:
    result = runner.invoke(main, ["parse", "--json", "-"], input=GOOD + BAD_CRC)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["ok"] for line in lines] == [True, False]
    assert lines[0]["cn"] == "1062"
    assert lines[1]["kind"] == "crc"
    assert "message" in lines[1]


def test_parse_strict_rejects_bare_lf_lenient_warns(runner: CliRunner) -> None:
    bare = GOOD[:-2] + b"\n"
    lenient = runner.invoke(main, ["parse", "-"], input=bare)
    assert lenient.exit_code == 0, lenient.output
    assert "warning:" in lenient.output
    strict = runner.invoke(main, ["parse", "--strict", "-"], input=bare)
    assert strict.exit_code == 1
    assert "REJECTED kind=tail" in strict.output


def test_parse_raw_stream_uses_the_framer(runner: CliRunner) -> None:
    corpus = Corpus(3)
    frames = corpus.frames(5)
    stream = b"noise before" + frames[0] + frames[1] + b"\x00\xff" + b"".join(frames[2:])
    result = runner.invoke(main, ["parse", "-"], input=stream)
    assert result.stdout.count(": OK") == 5
    # the junk is reported (kind header), so the input as a whole is not clean
    assert result.stdout.count("REJECTED kind=header") == 2
    assert result.exit_code == 1
    clean = runner.invoke(main, ["parse", "-"], input=b"".join(frames))
    assert clean.exit_code == 0, clean.output
    assert clean.stdout.count(": OK") == 5
    assert "line 5: OK" in clean.stdout  # one frame per line: line numbers


def test_parse_empty_input_is_an_error(runner: CliRunner) -> None:
    result = runner.invoke(main, ["parse", "-"], input=b"")
    assert result.exit_code == 1
    assert "no frame found" in result.output


def test_crc_of_segment_and_whole_frame(runner: CliRunner) -> None:
    result = runner.invoke(main, ["crc", SEGMENT])
    assert result.exit_code == 0
    assert result.output.strip() == "1C80"
    ok = runner.invoke(main, ["crc", "--frame", GOOD.decode()])
    assert ok.exit_code == 0 and "OK" in ok.output
    bad = runner.invoke(main, ["crc", "--frame", BAD_CRC.decode()])
    assert bad.exit_code == 1 and "MISMATCH" in bad.output and "1C80" in bad.output


def test_codes_table_and_lookup(runner: CliRunner) -> None:
    table = runner.invoke(main, ["codes", "pollutant"])
    assert table.exit_code == 0, table.output
    assert "w01018" in table.output and "a21026" in table.output
    one = runner.invoke(main, ["codes", "pollutant", "w01018"])
    assert one.exit_code == 0, one.output
    assert "w01018" in one.output
    assert one.output.count("\n") < 20
    cn = runner.invoke(main, ["codes", "cn", "2011"])
    assert cn.exit_code == 0, cn.output


def test_codes_unknown_table_and_code(runner: CliRunner) -> None:
    missing = runner.invoke(main, ["codes", "pollutant", "zz9999"])
    assert missing.exit_code == 1
    assert "zz9999" in missing.output
    table = runner.invoke(main, ["codes", "no_such_table"])
    assert table.exit_code == 1
    assert "no_such_table" in table.output


def test_settings_shows_sources(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[gateway]\nport = 7000\n")
    result = runner.invoke(main, ["--config", str(config), "settings"],
                           env={"HJ212_KAFKA__BOOTSTRAP": "k:1"})
    assert result.exit_code == 0, result.output
    assert "HJ212_GATEWAY__PORT" in result.output
    assert "7000" in result.output and "file" in result.output
    assert "k:1" in result.output and "env" in result.output


def test_demo_runs_and_counts_frames(runner: CliRunner) -> None:
    result = runner.invoke(main, ["demo", "--seconds", "1.5", "--rate", "3000",
                                  "--stations", "20", "--chunk-size", "200"])
    assert result.exit_code == 0, result.output
    # not a terminal: plain lines, no screen redraws
    assert "\x1b[" not in result.output
    # a progress line each second (on a slow machine the first may say t=2s)
    assert re.search(r"^t=\d+s rate=", result.output, re.MULTILINE), result.output
    assert "stopped after" in result.output
    assert "accepted" in result.output


def test_demo_stats_add_up() -> None:
    out = io.StringIO()
    stats = run_demo(seconds=1.2, rate=4000, stations=30, chunk_size=700, seed=5,
                     error_rate=0.1, noise=0.0, out=out, live=False)
    total = stats.accepted + sum(stats.rejected.values())
    assert stats.sent_frames > 2000
    assert stats.accepted > 0.8 * stats.sent_frames
    assert sum(stats.rejected.values()) > 0
    # a truncated frame can swallow the start of the next one, so the framer may see
    # fewer frames than were sent, but never more
    assert total <= stats.sent_frames
    assert set(stats.by_cn) == {"2011", "2051", "2061", "2031"}
    assert stats.samples


def test_demo_live_mode_redraws() -> None:
    out = io.StringIO()
    run_demo(seconds=1.2, rate=500, stations=5, out=out, live=True)
    assert "\x1b[H" in out.getvalue()
    assert "latest readings" in out.getvalue()


def test_console_script_works_from_another_directory(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "hj212"
    if not script.exists():
        pytest.skip("the hj212 console script is not installed in this interpreter's venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HJ212_")}
    env.pop("PYTHONPATH", None)
    result = subprocess.run([str(script), "crc", SEGMENT], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1C80"


def test_module_under_test_is_the_native_codec() -> None:
    # guard: these tests are about the real Rust module, not a stand-in
    assert hj212.crc16(SEGMENT.encode()) == 0x1C80
    assert hj212.parse(GOOD).mn == "010000A8900016F000169DC0"
