"""Config errors name the file, the line and the key; the registry lists and caches."""

from __future__ import annotations

from pathlib import Path

import pytest
from llm_flows.config import ConfigError, load_config
from llm_flows.models import Registry, UnknownModelError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        registry = Registry(load_config(path))
        for info in registry.models():
            registry.get_model(info.model_id)
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'default_model = "spell"\nmodels = [1,\n',
            ":2: invalid TOML: Invalid value (at end of document)",
        ),
        ('x = "unterminated\n', ":1:18: invalid TOML: Illegal character"),
        ("colour = 1\n", ":1: colour: unknown key (known: default_model, flows, log"),
        ('\n[models.local]\nbase_url = "http://x/v1"\n', ":2: models.local.backend: missing"),
        ('[models.local]\nbackend = "opnai"\n', ":2: models.local.backend: unknown backend"),
        (
            '[models.local]\nbackend = "openai"\nbase_url = "http://x"\n\naliases = "q"\n',
            ":5: models.local.aliases: must be a list of strings",
        ),
        (
            '[models.local]\nbackend = "openai"\nbase_url = "http://x"\ntimeout = "soon"\n',
            ":4: models.local.timeout: must be a number, not 'soon'",
        ),
        (
            '[models.local]\nbackend = "openai"\nbase_url = "http://x"\napi_key = "sk-1"\n',
            ":4: models.local.api_key: unknown setting for backend 'openai' (known: api_key_env,",
        ),
        ('[models.local]\nbackend = "openai"\n', ":1: models.local.base_url: missing"),
        (
            '[models.local]\nbackend = "openai"\nbase_url = "http://x"\n'
            "options = { temprature = 0.2 }\n",
            ":4: models.local.options: unknown option 'temprature' (known: max_tokens,",
        ),
        ('log = "yes"\n', ":1: log: must be true or false"),
        (
            '[models.local]\nbackend = "openai"\nbase_url = "localhost:8080/v1"\n',
            ":3: models.local.base_url: must start with http:// or https://, not 'localhost:",
        ),
        (
            '[models.local]\nbackend = "openai"\nbase_url = "http://x"\ntimeout = 0\n',
            ":4: models.local.timeout: must be more than 0, not 0",
        ),
        (
            '[models.local]\nbackend = "openai"\nbase_url = "http://x"\nretries = -1\n',
            ":4: models.local.retries: must be 0 or more, not -1",
        ),
        (
            '[models.t]\nbackend = "gguf"\npath = "t.gguf"\nn_ctx = "big"\n',
            ":4: models.t.n_ctx: must be an int, not 'big'",
        ),
        (
            '[models.a]\nbackend = "openai"\nbase_url = "http://x"\naliases = ["spell"]\n',
            ":4: models.a.aliases: 'spell' is already the id of a model",
        ),
        (
            '[models.a]\nbackend = "openai"\nbase_url = "http://x"\naliases = ["q"]\n'
            '[models.b]\nbackend = "openai"\nbase_url = "http://y"\naliases = ["q"]\n',
            ":8: models.b.aliases: 'q' is already an alias of 'a'",
        ),
        (
            'plugins = ["no_such_plugin_module"]\n',
            ":1: plugins: cannot load 'no_such_plugin_module'",
        ),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    message = error_of(path)
    assert message.startswith(str(path)), message
    assert expected in message, message


def test_an_unknown_default_model_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, '\ndefault_model = "qwen"\n')
    registry = Registry(load_config(path))
    with pytest.raises(UnknownModelError) as caught:
        registry.get_model(None)
    assert str(caught.value) == (
        f"{path}:2: default_model: unknown model 'qwen' (available: spell)"
    )


def test_missing_explicit_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_FLOWS_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(
        ConfigError, match=r"nope\.toml: no such file \(named by LLM_FLOWS_CONFIG\)"
    ):
        load_config()


def test_registry_resolves_aliases_caches_and_lists(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'default_model = "q"\n[models.local]\nbackend = "openai"\n'
        'base_url = "http://127.0.0.1:8080/v1"\nmodel = "qwen2.5"\naliases = ["q"]\n'
        "options = { temperature = 0.2 }\n",
    )
    registry = Registry(load_config(path))
    model = registry.get_model(None)
    assert model is registry.get_model("local") is registry.get_model("q")
    assert model.default_options.temperature == 0.2
    rows = {(i.model_id, i.backend, i.aliases, i.description) for i in registry.models()}
    assert ("local", "openai", ("q",), "qwen2.5 at http://127.0.0.1:8080/v1") in rows
    with pytest.raises(UnknownModelError, match=r"unknown model 'gpt' \(available: local, spell\)"):
        registry.get_model("gpt")
