"""``llm-flows flows list`` and ``llm-flows run``: see and try flows from the shell."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click

from ..config import ConfigError, load_config
from .options import option_pairs


def _catalog_and_registry() -> tuple[Any, Any]:
    from ..flows import FlowError, load_flows
    from ..models import Registry

    try:
        config = load_config()
        return load_flows(config), Registry(config)
    except (ConfigError, FlowError) as exc:
        raise click.ClickException(str(exc)) from None


@click.group("flows")
def flows() -> None:
    """List the flows: the built-in `correct` and `rewrite` and your own.

    Define your own in config.toml as [flows.NAME] tables or as files
    flows/NAME.toml next to it; see docs/flows.md.
    """


@flows.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per flow).")
def list_flows(as_json: bool) -> None:
    """Show every flow with its steps, templates and where it is defined."""
    catalog, _ = _catalog_and_registry()
    rows = [flow.describe() | {"version": flow.version} for flow in catalog]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        steps = " -> ".join(
            f"{s['template']} v{s['templateVersion']}" + (f" [{s['model']}]" if s["model"] else "")
            for s in row["steps"]
        )
        needs = "  (needs -i INSTRUCTION)" if row["needsInstruction"] else ""
        click.echo(f"{row['name']}: {row['description']}{needs}")
        click.echo(f"    steps: {steps}; timeout {row['timeout']:g} s; from {row['source']}")


@click.command("run")
@click.argument("flow")
@click.argument("source", type=click.File("rb"), default="-")
@click.option("-m", "--model", help="Model id or alias (default: the configured default).")
@click.option("-i", "--instruction", help="What to do, for flows such as `rewrite`.")
@option_pairs
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds to wait.")
def run(flow: str, source: Any, **settings: Any) -> None:
    """Run FLOW on a file (or stdin: `-`) and print the proposal to stdout.

    The proposal is the flow's whole output, exactly as an editor would
    receive it before merging (line endings included); nothing is written
    back to the file.

    \b
    Examples:
      llm-flows run correct notes.md
      echo "Teh cat sat." | llm-flows run correct -
      llm-flows run rewrite -i "make it formal" -m local letter.txt
    """
    catalog, registry = _catalog_and_registry()
    raw = source.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{source.name}: not UTF-8 text ({exc.reason})") from None
    proposal = asyncio.run(_run(catalog, registry, flow, text, settings))
    sys.stdout.buffer.write(proposal.encode("utf-8"))
    sys.stdout.flush()


async def _run(catalog: Any, registry: Any, flow: str, text: str, settings: Any) -> str:
    from ..commands import CommandError, CommandTable

    table = CommandTable(registry, catalog)
    try:
        fid = table.submit(flow, text, **settings)
        await table.wait(fid)
        return table.claim(fid)
    except CommandError as exc:
        raise click.ClickException(_with_flag(str(exc))) from None
    finally:
        await table.aclose(grace=0)
        await registry.aclose()


#: request fields the table names in its errors -> the option of `run` that sets them
_FLAGS = {
    "instruction": "-i/--instruction",
    "model": "-m/--model",
    "options": "-o/--option",
    "timeout": "--timeout",
}


def _with_flag(message: str) -> str:
    """The table's error led by the option that fixes it, not the request field."""
    field, colon, rest = message.partition(": ")
    return f"{_FLAGS[field]}: {rest}" if colon and field in _FLAGS else message
