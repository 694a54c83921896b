"""``llm-flows models list|options ID`` and ``llm-flows prompt``: models by hand.

``prompt`` streams the answer to stdout as it arrives, so it doubles as a
quick check that a configured server, key and model name work.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click
from pydantic import ValidationError

from ..config import ConfigError, load_config
from ..log import log_response
from ..models import Model, ModelError, Prompt, Registry, UnknownModelError
from .options import option_pairs


def _registry() -> Registry:
    try:
        return Registry(load_config())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _model(registry: Registry, name: str | None) -> Model:
    try:
        return registry.get_model(name)
    except (UnknownModelError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("models")
def models() -> None:
    """List the models and show the options each accepts."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per model.")
def list_models(as_json: bool) -> None:
    """Every model: id, backend, aliases and where it points (* = the default)."""
    registry = _registry()
    try:
        infos = registry.models()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        default: str | None = registry.resolve(None)
        bad_default = None
    except UnknownModelError as exc:  # list them anyway: the user is choosing one
        default, bad_default = None, exc
    for info in infos:
        if as_json:
            row = {
                "id": info.model_id,
                "backend": info.backend,
                "aliases": list(info.aliases),
                "description": info.description,
                "default": info.model_id == default,
            }
            click.echo(json.dumps(row))
            continue
        mark = "*" if info.model_id == default else " "
        aliases = f" (aliases: {', '.join(info.aliases)})" if info.aliases else ""
        click.echo(f"{mark} {info.model_id}  [{info.backend}]{aliases}  {info.description}")
    if bad_default is not None:
        raise click.ClickException(str(bad_default))


@models.command("options")
@click.argument("model_id")
def show_model_options(model_id: str) -> None:
    """The options MODEL_ID accepts, with their configured defaults."""
    model = _model(_registry(), model_id)
    defaults = model.default_options.model_dump(exclude_unset=True)
    for name, field in type(model.default_options).model_fields.items():
        kind = field.annotation
        shown = (
            kind.__name__
            if isinstance(kind, type) and not getattr(kind, "__args__", None)
            else str(kind)
        )
        default = f"  (configured: {json.dumps(defaults[name])})" if name in defaults else ""
        click.echo(f"{name}: {shown}  {field.description or ''}{default}")


@click.command("prompt")
@click.argument("text", required=False)
@click.option(
    "-m", "--model", "model_name", help="Model id or alias (default: the configured one)."
)
@click.option("-s", "--system", help="System prompt.")
@option_pairs
def prompt(
    text: str | None,
    model_name: str | None,
    system: str | None,
    options: dict[str, Any],
) -> None:
    """Send TEXT to a model and stream the answer to stdout.

    TEXT "-" (or no TEXT with piped input) reads standard input. Options are
    checked against `llm-flows models options MODEL`.
    """
    if text in (None, "-"):
        if text is None and sys.stdin.isatty():
            raise click.UsageError("give TEXT, or '-' to read standard input")
        text = sys.stdin.read()
    assert text is not None
    registry = _registry()
    config = registry.config
    model = _model(registry, model_name)
    try:
        merged = model.default_options.merged(options)
    except ValidationError as exc:
        raise click.UsageError(type(model.default_options).explain(exc)) from exc
    response = model.respond(Prompt(text, system, merged))

    async def stream() -> None:
        try:
            async for chunk in response:
                sys.stdout.write(chunk)
                sys.stdout.flush()
        finally:
            await registry.aclose()

    try:
        asyncio.run(stream())
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    finally:
        if response.finish_reason is not None:
            log_response(response, config=config)
    if response.output and not response.output.endswith("\n") and sys.stdout.isatty():
        click.echo()
    if response.finish_reason == "length":
        click.echo("(stopped at max_tokens)", err=True)
