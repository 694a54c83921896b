"""Prompt templates: readable TOML files with a version, overridable by the user.

A template has a ``system`` part and a ``prompt`` part; ``{text}`` and
``{instruction}`` in either are replaced, every other brace is left alone (so a
template may show JSON or code). Built-ins live next to this module in
``templates/``; a file of the same name in ``<config dir>/templates/`` wins.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .errors import FlowError

BUILTIN_DIR = Path(__file__).resolve().parent / "templates"
_PLACEHOLDER = re.compile(r"\{(text|instruction)\}")
_KEYS = {"version", "description", "system", "prompt"}


@dataclass(frozen=True)
class Template:
    """A versioned system + user prompt pair."""

    name: str
    version: str
    system: str
    prompt: str
    source: str
    description: str = ""

    @property
    def needs_instruction(self) -> bool:
        return "{instruction}" in self.system or "{instruction}" in self.prompt

    def render(self, text: str, instruction: str | None) -> tuple[str | None, str]:
        """The (system, user) prompt for ``text``; an empty system part becomes None."""
        values = {"text": text, "instruction": (instruction or "").strip()}

        def fill(template: str) -> str:
            return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)

        system = fill(self.system).strip()
        return (system or None), fill(self.prompt)


#: a template that sends the text as it is (for text-transforming models such as `spell`)
PLAIN = Template("plain", "1", "", "{text}", "built-in")


def template_from_table(name: str, data: dict[str, Any], source: str, where: str) -> Template:
    """Validate a template table; ``where`` prefixes error messages (file and key)."""
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise FlowError(f"{where}{unknown[0]}: unknown key (known: {', '.join(sorted(_KEYS))})")
    for key in ("system", "prompt", "description"):
        if not isinstance(data.get(key, ""), str):
            raise FlowError(f"{where}{key}: must be a string")
    version = data.get("version", "0")
    if not isinstance(version, (str, int)) or isinstance(version, bool):
        raise FlowError(f"{where}version: must be a string or an integer")
    prompt = data.get("prompt", "{text}")
    if "{text}" not in prompt and "{text}" not in data.get("system", ""):
        raise FlowError(f"{where}prompt: must contain {{text}}, where the user's text goes")
    system = data.get("system", "").strip()  # stripped once: renders share the string
    return Template(name, str(version), system, prompt, source, data.get("description", ""))


def load_template_file(path: Path) -> Template:
    """Read one template file; errors name the file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FlowError(f"{path}: cannot read: {exc.strerror}") from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FlowError(f"{path}: {exc}") from exc
    return template_from_table(path.stem, data, str(path), f"{path}: ")


def load_templates(user_dir: Path | None) -> dict[str, Template]:
    """Built-in templates, overridden by same-named files in ``user_dir``."""
    found = {path.stem: path for path in sorted(BUILTIN_DIR.glob("*.toml"))}
    if user_dir is not None and user_dir.is_dir():
        found.update({path.stem: path for path in sorted(user_dir.glob("*.toml"))})
    return {name: load_template_file(path) for name, path in found.items()}
