"""Build the flow catalog: the built-in flows plus the user's, from TOML.

User flows come from ``[flows.NAME]`` tables in config.toml and from
``<config dir>/flows/NAME.toml`` files (one flow per file, named by the file).
A user flow with a built-in's name replaces it. Errors name the file and key.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ..config import Config
from .errors import FlowError
from .flow import DEFAULT_TIMEOUT, Flow, FlowCatalog, Step
from .template import PLAIN, Template, load_templates, template_from_table

#: the built-in over-correction guard: a correction changes at most this share of words
CORRECT_MAX_REWRITE = 0.5

_FLOW_KEYS = {
    "description",
    "model",
    "timeout",
    "needs_instruction",
    "instruction",
    "merge",
    "steps",
}
_STEP_KEYS = {"template", "system", "prompt", "model", "options", "keep_line_breaks", "max_rewrite"}
_MERGE_KEYS = {"max_divergence", "max_conflict_ratio", "max_rewrite"}


def builtin_flows(templates: dict[str, Template]) -> dict[str, Flow]:
    correct, rewrite = templates["correct"], templates["rewrite"]
    return {
        "correct": Flow(
            "correct",
            "Fix spelling, grammar and punctuation; keep meaning, voice and line breaks.",
            (Step(correct, max_rewrite=CORRECT_MAX_REWRITE),),
        ),
        "rewrite": Flow(
            "rewrite",
            "Rewrite the text following your instruction (e.g. 'make it formal').",
            (Step(rewrite, keep_line_breaks=False),),
            needs_instruction=True,
        ),
    }


def load_flows(config: Config) -> FlowCatalog:
    """The built-in flows and the user's (``config.flows`` and ``flows/*.toml``)."""
    directory = config.directory
    templates = load_templates(directory / "templates")
    flows = builtin_flows(templates)
    source = str(config.path) if config.path is not None else "config.toml"
    for name, table in config.flows.items():
        flows[name] = parse_flow(name, table, templates, source, f"flows.{name}.")
    flow_dir = directory / "flows"
    if flow_dir.is_dir():
        for path in sorted(flow_dir.glob("*.toml")):
            flows[path.stem] = parse_flow(path.stem, _read(path), templates, str(path), "")
    return FlowCatalog(flows, templates)


def _read(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        return data
    except OSError as exc:
        raise FlowError(f"{path}: cannot read: {exc.strerror}") from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FlowError(f"{path}: {exc}") from exc


def parse_flow(
    name: str, table: dict[str, Any], templates: dict[str, Template], source: str, prefix: str
) -> Flow:
    """Validate one flow table; ``prefix`` is its key path in ``source`` (e.g. ``flows.x.``)."""

    def fail(key: str, problem: str) -> FlowError:
        return FlowError(f"{source}: {prefix}{key}: {problem}")

    step_keys = _STEP_KEYS - {"model"}
    unknown = sorted(set(table) - _FLOW_KEYS - step_keys)
    if unknown:
        known = ", ".join(sorted(_FLOW_KEYS | step_keys))
        raise fail(unknown[0], f"unknown key (known: {known})")
    raw_steps = table.get("steps")
    if raw_steps is None:
        inline = {k: v for k, v in table.items() if k in step_keys}
        steps: tuple[Step, ...] = (_parse_step(inline, templates, fail),)
    else:
        if not isinstance(raw_steps, list) or not raw_steps:
            raise fail("steps", "must be a non-empty array of step tables")
        stray = sorted(set(table) & step_keys)
        if stray:
            raise fail(stray[0], "belongs in each step when `steps` is given")
        parsed = []
        for i, step in enumerate(raw_steps):
            if not isinstance(step, dict):
                raise fail(f"steps[{i}]", 'must be a table, e.g. { template = "correct" }')
            parsed.append(
                _parse_step(step, templates, lambda k, p, i=i: fail(f"steps[{i}].{k}", p))
            )
        steps = tuple(parsed)
    description = _typed(table, "description", str, "", fail)
    model = _typed(table, "model", str, None, fail)
    timeout = _typed(table, "timeout", (int, float), DEFAULT_TIMEOUT, fail)
    if isinstance(timeout, bool) or timeout <= 0:
        raise fail("timeout", "must be a positive number of seconds")
    instruction = _typed(table, "instruction", str, None, fail)
    wants = any(step.template.needs_instruction for step in steps) and not instruction
    needs_instruction = _typed(table, "needs_instruction", bool, wants, fail)
    merge = _typed(table, "merge", dict, {}, fail)
    for key, value in merge.items():
        if key not in _MERGE_KEYS:
            raise fail(f"merge.{key}", f"unknown key (known: {', '.join(sorted(_MERGE_KEYS))})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise fail(f"merge.{key}", "must be a number from 0 to 1")
    return Flow(
        name,
        description or steps[-1].template.description,
        steps,
        model=model,
        timeout=float(timeout),
        needs_instruction=needs_instruction,
        instruction=instruction,
        merge_policy={k: float(v) for k, v in merge.items()},
        source=source,
    )


def _parse_step(table: dict[str, Any], templates: dict[str, Template], fail: Any) -> Step:
    unknown = sorted(set(table) - _STEP_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key (known: {', '.join(sorted(_STEP_KEYS))})")
    template = PLAIN
    if "template" in table:
        ref = _typed(table, "template", str, "", fail)
        if ref not in templates:
            raise fail("template", f"unknown template {ref!r} (known: {', '.join(templates)})")
        template = templates[ref]
    if "system" in table or "prompt" in table:
        if "template" in table:
            raise fail("template", "give either `template` or `system`/`prompt`, not both")
        inline: dict[str, Any] = {k: table[k] for k in ("system", "prompt") if k in table}
        try:
            template = template_from_table("inline", {"version": "0", **inline}, "inline", "")
        except FlowError as exc:
            raise fail(*str(exc).split(": ", 1)) from None
    model = _typed(table, "model", str, None, fail)
    options = _typed(table, "options", dict, {}, fail)
    keep = _typed(table, "keep_line_breaks", bool, True, fail)
    guard = _typed(table, "max_rewrite", (int, float), None, fail)
    if guard is not None and (isinstance(guard, bool) or not 0 <= guard <= 1):
        raise fail("max_rewrite", "must be a number from 0 to 1 (the share of words)")
    return Step(template, model, dict(options), keep, None if guard is None else float(guard))


def _typed(table: dict[str, Any], key: str, kind: Any, default: Any, fail: Any) -> Any:
    value = table.get(key, default)
    if value is default:
        return value
    if not isinstance(value, kind):
        names = {str: "a string", bool: "true or false", dict: "a table", int: "a number"}
        wanted = names.get(kind if isinstance(kind, type) else kind[0], "a number")
        raise fail(key, f"must be {wanted}, not {value!r}")
    return value
