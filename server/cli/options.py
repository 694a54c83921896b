"""Command-line options shared by several subcommands."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def _parse_pairs(
    _ctx: click.Context, _param: click.Parameter, pairs: tuple[tuple[str, str], ...]
) -> dict[str, Any]:
    """``-o KEY VALUE`` pairs as a dict: JSON values where they parse (numbers,
    true, lists), strings otherwise; ``-o stop X`` repeated collects a list."""
    options: dict[str, Any] = {}
    for key, raw in pairs:
        if key == "stop":
            options.setdefault("stop", []).append(raw)
            continue
        try:
            options[key] = json.loads(raw)
        except json.JSONDecodeError:
            options[key] = raw
    return options


def option_pairs(function: F) -> F:
    """Add ``-o/--option KEY VALUE`` (repeatable), passed on as ``options: dict``."""
    return click.option(
        "-o",
        "--option",
        "options",
        nargs=2,
        multiple=True,
        metavar="KEY VALUE",
        callback=_parse_pairs,
        help="A model option, e.g. -o temperature 0.2 -o max_tokens 50 "
        "(repeatable; repeat -o stop X for several stops). See `llm-flows models options ID`.",
    )(function)
