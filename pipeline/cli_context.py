"""What every ``hj212`` subcommand shares: the settings, the ClickHouse DSN and logging.

The main group (``pipeline.cli``) puts one ``CliContext`` on the click context; every
subcommand, in whatever module, takes it with ``@pass_cli`` and reads ``cli.settings``.
Subcommand modules import this module, never ``pipeline.cli`` (which imports them to
register their groups), so there is no import cycle and ``python -m pipeline.cli`` runs
the CLI module once.

Settings are read when a command first asks for them, not when the group starts, so
``--help`` works even while a setting is wrong. A group invoked on its own (a test
calling ``db`` directly) gets a context with no file and no overrides: the same
environment variables, the same errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from pipeline.config import ConfigError, Settings, load_settings
from pipeline.logs import configure_logging

#: click settings every command shares: -h as well as --help, and wider help text
CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclass
class CliContext:
    """The main group's options, and the settings they lead to (read once, on demand)."""

    config: Path | None = None
    log_format: str | None = None
    _settings: Settings | None = field(default=None, init=False, repr=False)

    @property
    def settings(self) -> Settings:
        """The platform's settings; logging is configured from them on first use. A bad
        setting is a ClickException naming the variable, the value and the fix."""
        if self._settings is None:
            try:
                self._settings = load_settings(
                    self.config, overrides={"log_format": self.log_format}
                )
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
            configure_logging(self._settings.log_format, self._settings.log_level)
        return self._settings

    @property
    def dsn(self) -> str:
        """The ClickHouse DSN of the settings."""
        return self.settings.clickhouse.dsn


#: ``@pass_cli`` hands a command the CliContext (made with defaults when none is there)
pass_cli = click.make_pass_decorator(CliContext, ensure=True)
