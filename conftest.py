"""Fixtures shared by the Python, daemon and editor test suites."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from testkit import SCRIPTED_PLUGIN, toml_value

# Property tests check laws, not speed: on a loaded 2-core CI machine the
# default 200 ms deadline and the slow-generation health check fail at random.
hypothesis.settings.register_profile(
    "llm-flows", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("llm-flows")


@pytest.fixture
def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Write a config file that loads the scripted test model, and point LLM_FLOWS_CONFIG at it.

    ``write_config(scripted={"delay": 0.5, "replace": {"teh": "the"}}, default_model="scripted")``
    declares ``[models.scripted]`` with those settings; other keyword arguments become
    top-level keys. Also isolates XDG folders in the test's temporary directory.
    """

    def write(models: dict[str, dict[str, Any]] | None = None, **top: Any) -> Path:
        models = dict(models or {})
        if "scripted" in top:
            models["scripted"] = {"backend": "scripted", **top.pop("scripted")}
        lines = [f"plugins = {toml_value([str(SCRIPTED_PLUGIN)])}"]
        lines += [f"{key} = {toml_value(value)}" for key, value in top.items()]
        for name, settings in models.items():
            lines.append(f"\n[models.{name}]")
            lines += [f"{key} = {toml_value(value)}" for key, value in settings.items()]
        path = tmp_path / "config" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        monkeypatch.setenv("LLM_FLOWS_CONFIG", str(path))
        return path

    for var, sub in (
        ("XDG_CONFIG_HOME", "xdg-config"),
        ("XDG_DATA_HOME", "xdg-data"),
        ("XDG_CACHE_HOME", "xdg-cache"),
    ):
        monkeypatch.setenv(var, str(tmp_path / sub))
    return write
