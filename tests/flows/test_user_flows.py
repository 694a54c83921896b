"""User flows and templates from TOML: loaded, and bad ones named by file and key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from llm_flows.config import load_config
from llm_flows.flows import FlowError, load_flows

Write = Callable[..., Path]


def test_builtins_exist_with_versioned_templates(write_config: Write) -> None:
    write_config()
    catalog = load_flows(load_config())
    assert catalog.names() == ["correct", "rewrite"]
    correct = catalog.get("correct")
    assert correct.steps[0].template.version == "2"
    assert correct.steps[0].max_rewrite == 0.5
    assert not correct.needs_instruction
    assert catalog.get("rewrite").needs_instruction


def test_a_flow_table_in_config_toml(write_config: Write) -> None:
    path = write_config(
        flows={
            "formal": {
                "description": "Make it formal.",
                "template": "rewrite",
                "instruction": "make it formal",
                "model": "scripted",
                "timeout": 30,
                "options": {"temperature": 0.2},
                "merge": {"max_divergence": 0.8},
            }
        }
    )
    flow = load_flows(load_config()).get("formal")
    assert flow.source == str(path)
    assert (flow.description, flow.model, flow.timeout) == ("Make it formal.", "scripted", 30.0)
    assert not flow.needs_instruction  # it brings its own instruction
    assert flow.steps[0].options == {"temperature": 0.2}
    assert flow.merge_policy == {"max_divergence": 0.8}


def test_flow_files_and_template_overrides_in_the_config_dir(write_config: Write) -> None:
    config = write_config()
    (config.parent / "flows").mkdir()
    (config.parent / "flows" / "tidy.toml").write_text(
        'description = "Spell, then correct."\n'
        'steps = [{ model = "spell" }, { template = "correct" }]\n'
    )
    (config.parent / "templates").mkdir()
    (config.parent / "templates" / "correct.toml").write_text(
        'version = "7"\nsystem = "Fix typos only."\nprompt = "Text:\\n{text}"\n'
    )
    before = load_flows(load_config())
    tidy = before.get("tidy")
    assert [s.model for s in tidy.steps] == ["spell", None]
    assert tidy.steps[1].template.version == "7"
    assert before.get("correct").steps[0].template.render("abc", None) == (
        "Fix typos only.",
        "Text:\nabc",
    )


def test_the_flow_version_changes_with_its_template(write_config: Write) -> None:
    config = write_config()
    first = load_flows(load_config()).get("correct").version
    (config.parent / "templates").mkdir()
    (config.parent / "templates" / "correct.toml").write_text('version = "2"\nprompt = "{text}"\n')
    assert load_flows(load_config()).get("correct").version != first


@pytest.mark.parametrize(
    ("flows", "message"),
    [
        ({"x": {"tmeout": 3}}, "flows.x.tmeout: unknown key"),
        ({"x": {"timeout": -1}}, "flows.x.timeout: must be a positive number"),
        ({"x": {"timeout": "soon"}}, "flows.x.timeout: must be a number, not 'soon'"),
        ({"x": {"template": "nope"}}, "flows.x.template: unknown template 'nope'"),
        ({"x": {"steps": []}}, "flows.x.steps: must be a non-empty array"),
        ({"x": {"steps": ["correct"]}}, "flows.x.steps[0]: must be a table"),
        ({"x": {"steps": [{}, {"model": 3}]}}, "flows.x.steps[1].model: must be a string"),
        ({"x": {"steps": [{"templat": "c"}]}}, "flows.x.steps[0].templat: unknown key"),
        ({"x": {"steps": [{}], "template": "correct"}}, "flows.x.template: belongs in each step"),
        ({"x": {"merge": {"max_divergence": 2}}}, "flows.x.merge.max_divergence: must be a num"),
        ({"x": {"merge": {"foo": 1}}}, "flows.x.merge.foo: unknown key"),
        ({"x": {"prompt": "no placeholder"}}, "flows.x.prompt: must contain {text}"),
        ({"x": {"max_rewrite": 1.5}}, "flows.x.max_rewrite: must be a number from 0 to 1"),
        ({"x": {"template": "correct", "system": "hi"}}, "flows.x.template: give either"),
    ],
)
def test_bad_flow_tables_name_the_file_and_key(
    write_config: Write, flows: dict[str, Any], message: str
) -> None:
    path = write_config(flows=flows)
    with pytest.raises(FlowError) as caught:
        load_flows(load_config())
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_a_bad_flow_file_names_the_file(write_config: Write) -> None:
    config = write_config()
    (config.parent / "flows").mkdir()
    broken = config.parent / "flows" / "broken.toml"
    broken.write_text("steps = [{ template = 'correct' }\n")
    with pytest.raises(FlowError, match=f"^{broken}: "):
        load_flows(load_config())
    broken.write_text("steps = [{ template = 'correct', model = 1 }]\n")
    with pytest.raises(FlowError, match=rf"^{broken}: steps\[0\]\.model: must be a string"):
        load_flows(load_config())


def test_a_bad_template_file_names_the_file_and_key(write_config: Write) -> None:
    config = write_config()
    (config.parent / "templates").mkdir()
    bad = config.parent / "templates" / "mine.toml"
    bad.write_text('version = "1"\nsytem = "typo"\n')
    with pytest.raises(FlowError, match=f"^{bad}: sytem: unknown key"):
        load_flows(load_config())
