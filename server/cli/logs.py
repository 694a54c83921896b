"""``llm-flows logs on|off|status|list|path``: the opt-in response log."""

from __future__ import annotations

import json

import click

from ..config import ConfigError, load_config
from ..log import (
    count_dead_letters,
    count_responses,
    log_path,
    logging_enabled,
    recent_dead_letters,
    recent_responses,
    set_logging,
)


@click.group("logs")
def logs() -> None:
    """Turn the response log on or off, list or locate it.

    Off by default: editor buffers can hold secrets. When on, every model
    response (prompt, options, answer, tokens, time) and every dead letter (a
    flow that failed, timed out or expired, and why) is kept in a private
    SQLite file (mode 0600) in $XDG_DATA_HOME/llm-flows/.
    """


def _config_setting() -> bool | None:
    try:
        return load_config().log
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _warn_if_overridden(wanted: bool) -> None:
    setting = _config_setting()
    if setting is not None and setting != wanted:
        state = "true" if setting else "false"
        click.echo(f"note: the config file says log = {state}, which wins", err=True)


def _set(enabled: bool) -> None:
    try:
        set_logging(enabled)
    except OSError as exc:
        where = exc.filename or log_path().parent
        word = "on" if enabled else "off"
        raise click.ClickException(f"cannot turn logging {word}: {where}: {exc.strerror}") from None


@logs.command("on")
def on() -> None:
    """Log every response from now on."""
    _set(True)
    _warn_if_overridden(True)
    click.echo(f"logging on: {log_path()}")


@logs.command("off")
def off() -> None:
    """Stop logging (the rows already logged stay)."""
    _set(False)
    _warn_if_overridden(False)
    click.echo("logging off")


@logs.command("status")
def status() -> None:
    """Whether responses are logged, where, and how many are kept."""
    setting = _config_setting()
    enabled = setting if setting is not None else logging_enabled()
    why = " (set by the config file's `log` key)" if setting is not None else ""
    click.echo(f"logging {'on' if enabled else 'off'}{why}")
    click.echo(f"database: {log_path()}")
    click.echo(f"responses logged: {count_responses()}")
    click.echo(f"dead letters logged: {count_dead_letters()}")


@logs.command("path")
def path() -> None:
    """Print where the log database is (or would be)."""
    click.echo(str(log_path()))


@logs.command("list")
@click.option("-n", "--count", default=10, show_default=True, help="How many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per row.")
@click.option(
    "--dead-letters", is_flag=True, help="Flows that failed, timed out or expired, and why."
)
def list_logs(count: int, as_json: bool, dead_letters: bool) -> None:
    """The most recent logged responses (or dead letters)."""
    rows = recent_dead_letters(count) if dead_letters else recent_responses(count)
    for row in rows:
        if as_json:
            click.echo(json.dumps(row))
        elif dead_letters:
            what = f"flow {row['flow_id']}: {row['flow']} {row['model']} {row['state']}"
            click.echo(f"#{row['id']} {row['time']} {what}, {row['attempts']} attempt(s)")
            click.echo(f"  reason: {row['reason']}")
        else:
            tokens = f"{row['input_tokens']}->{row['output_tokens']} tokens"
            click.echo(f"#{row['id']} {row['time']} {row['model']} {row['finish_reason']} {tokens}")
            click.echo(f"  prompt:   {row['prompt']!r}")
            click.echo(f"  response: {row['response']!r}")
