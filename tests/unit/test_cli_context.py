"""One CLI context for every subcommand (pipeline/cli_context.py), and no way back to
pipeline.cli from the modules it registers."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.cli_context import CliContext, pass_cli
from pipeline.stack.cli import stack
from pipeline.store.cli import db

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "pipeline"


def _imports(path: Path) -> set[str]:
    """Every module a file imports (top level, in functions, under TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _ours(names: set[str]) -> set[str]:
    return {n for n in names if n == "pipeline" or n.startswith("pipeline.")}


def test_the_context_module_imports_only_settings_and_logging() -> None:
    ours = _ours(_imports(PIPELINE / "cli_context.py"))
    assert ours <= {"pipeline.config", "pipeline.logs", "pipeline.config.ConfigError",
                    "pipeline.config.Settings", "pipeline.config.load_settings",
                    "pipeline.logs.configure_logging"}, ours


def test_no_module_imports_the_cli_module_back() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in PIPELINE.rglob("*.py")
                 if p.name != "cli.py" or p.parent != PIPELINE
                 if any(n == "pipeline.cli" or n.startswith("pipeline.cli.")
                        for n in _imports(p))]
    assert offenders == []


def test_every_command_module_takes_settings_one_way() -> None:
    """No command reaches for ctx.obj, click.pass_obj or a state class of its own."""
    text_of = {p: p.read_text(encoding="utf-8") for p in PIPELINE.rglob("cli.py")}
    assert len(text_of) >= 7
    for path, text in text_of.items():
        if path == PIPELINE / "cli.py":  # the main group is where the context is made
            text = text.replace("ctx.obj = CliContext(", "")
        for old in ("ctx.obj", "pass_obj", "find_object", "CliState", "def settings(self)"):
            assert old not in text, f"{path.relative_to(ROOT)} uses {old}"


def test_every_settings_reading_command_is_passed_the_context() -> None:
    """Walk the command tree: a command whose callback takes a CliContext gets one."""
    seen = 0

    def walk(cmd: click.Command, path: str) -> None:
        nonlocal seen
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, f"{path} {name}")
            return
        annotations = getattr(getattr(cmd.callback, "__wrapped__", None), "__annotations__",
                              {})
        if any(a in ("CliContext", CliContext) for a in annotations.values()):
            seen += 1

    walk(main, "hj212")
    # run, settings, demo, parse, gateway, simulate, worker, db x2, stations x3, stack x5
    assert seen >= 17


def test_a_group_run_alone_gets_a_default_context() -> None:
    """`db` and `stack` invoked without the main group read the same environment."""
    runner = CliRunner()
    for group, args in ((db, ["status"]), (stack, ["status"])):
        result = runner.invoke(group, args, env={"HJ212_CLICKHOUSE__PORT": "not-a-port"})
        assert result.exit_code == 1, result.output
        assert "HJ212_CLICKHOUSE__PORT" in result.output
        assert "Traceback" not in result.output


def test_pass_cli_gives_one_context_per_invocation() -> None:
    seen: list[CliContext] = []

    @click.group()
    @click.pass_context
    def top(ctx: click.Context) -> None:
        ctx.obj = CliContext(config=None, log_format="json")

    @top.command()
    @pass_cli
    def one(cli: CliContext) -> None:
        seen.append(cli)

    assert CliRunner().invoke(top, ["one"]).exit_code == 0
    assert seen[0].log_format == "json"


@pytest.mark.parametrize("args", [["--help"], ["settings"]])
def test_python_dash_m_runs_the_cli(args: list[str]) -> None:
    """`python -m pipeline.cli` (how `hj212 run` starts its children) works: the CLI
    module loaded as __main__ is no longer a second copy anyone checks classes against."""
    env = {**os.environ, "HJ212_LOG_FORMAT": "json"}
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert ("Usage:" in out.stdout) if args == ["--help"] else ("HJ212_" in out.stdout)


@click.command("hello")
@pass_cli
def hello(cli: CliContext) -> None:
    """A plugin command, as admin/ and dashboards/ add theirs."""
    click.echo(f"hello from a plugin, log format {cli.log_format}")


def test_plugin_commands_come_from_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    import pipeline.cli as cli_module

    def fake_entry_points(group: str) -> list[EntryPoint]:
        assert group == cli_module.PLUGIN_GROUP
        return [EntryPoint("hello", f"{__name__}:hello", group),
                EntryPoint("broken", "no_such_module_here:cmd", group)]

    monkeypatch.setattr(cli_module, "entry_points", fake_entry_points)

    @click.group()
    @click.pass_context
    def top(ctx: click.Context) -> None:
        ctx.obj = CliContext(log_format="json")

    cli_module._add_plugin_commands(top)
    runner = CliRunner()
    ok = runner.invoke(top, ["hello"])
    assert ok.exit_code == 0 and "log format json" in ok.output
    bad = runner.invoke(top, ["broken"])
    assert bad.exit_code == 1
    assert "no_such_module_here:cmd failed to load" in bad.output
    assert "Traceback" not in bad.output
