"""setup() options, :checkhealth llm_flows, :LlmStatus and a daemon that cannot start."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.nvim


def lua_error(ed: Any, code: str) -> str:
    return str(ed.lua(f"local ok, e = pcall(function() {code} end) return ok and '' or e"))


def test_setup_names_a_bad_option(editor: Callable[..., Any]) -> None:
    ed = editor()
    assert 'option "timeout" must be a positive number' in lua_error(
        ed, "require('llm_flows').setup({timeout = 'soon'})"
    )
    assert 'unknown option "modle"' in lua_error(ed, "require('llm_flows').setup({modle = 'x'})")
    assert "must be a non-empty list" in lua_error(ed, "require('llm_flows').setup({cmd = 'x'})")


def test_works_without_setup(editor: Callable[..., Any]) -> None:
    """The default command is `llm-flows serve` from $PATH."""
    ed = editor(scripted={"replace": {"teh": "the"}})
    bin_dir = ed.lua("return vim.fn.fnamemodify(require('llm_flows').config().cmd[1], ':h')")
    ed.lua("package.loaded['llm_flows'] = nil; package.loaded['llm_flows.flows'] = nil")
    ed.lua("vim.env.PATH = ... .. ':' .. vim.env.PATH", bin_dir)
    assert ed.lua("return require('llm_flows').config().cmd") == ["llm-flows", "serve"]
    ed.set_text("teh default")
    ed.nvim.command("LlmCorrect")
    ed.wait_text("the default")


def test_checkhealth_reports_the_daemon(editor: Callable[..., Any]) -> None:
    ed = editor(model="scripted")
    ed.nvim.command("checkhealth llm_flows")
    report = ed.text()
    assert "daemon command: " in report
    assert "the daemon answers: llm-flows 0.1.0, protocol 1" in report
    assert "model: scripted" in report
    assert "ERROR" not in report


def test_checkhealth_names_an_unknown_model(editor: Callable[..., Any]) -> None:
    ed = editor(model="no-such-model")
    ed.nvim.command("checkhealth llm_flows")
    assert "model no-such-model is not known to the daemon" in ed.text()
    assert "known: scripted, spell" in ed.text()  # sorted, whatever the daemon's order


def test_status_lists_flows_with_state_and_age(editor: Callable[..., Any]) -> None:
    ed = editor(scripted={"rules": [{"when": "HANG", "hang": True}]})
    ed.set_text("HANG one\nHANG two")
    ed.nvim.command("2LlmRewrite make it formal")
    ed.wait_state("running")
    status = ed.nvim.call("execute", "LlmStatus")
    assert "llm-flows: daemon 0.1.0 running (pid " in status
    assert re.search(r"\n  \S+  rewrite  buffer 1 lines 2-2  running  \d+s", status), status


def test_status_shows_how_recent_flows_ended(editor: Callable[..., Any]) -> None:
    ed = editor(scripted={"replace": {"teh": "the"}, "rules": [{"when": "FAIL", "fail": "no"}]})
    ed.set_text("teh one\nFAIL two")
    ed.nvim.command("1LlmCorrect")
    ed.wait_idle()
    ed.nvim.command("2LlmCorrect")
    ed.wait_idle()
    status = ed.nvim.call("execute", "LlmStatus")
    assert "  no flows pending\nrecently finished:\n" in status, status
    assert re.search(r"\n  \d+s ago  correct \(buffer 1\) failed: scripted: no\n", status), status
    assert re.search(r"\n  \d+s ago  correct \(buffer 1\): 1 change\(s\) applied$", status), status


def test_a_daemon_that_cannot_start_is_reported(editor: Callable[..., Any]) -> None:
    ed = editor(cmd=["/nonexistent/llm-flows", "serve"])
    ed.set_text("teh text")
    ed.nvim.command("LlmCorrect")
    assert "cannot run the daemon" in ed.wait_note("not executable")
    assert ed.pending() == []
    assert ed.text() == "teh text"


def test_a_rewrite_without_instruction_is_refused(editor: Callable[..., Any]) -> None:
    ed = editor()
    ed.set_text("some text")
    with pytest.raises(Exception, match="E471"):  # Argument required
        ed.nvim.command("LlmRewrite")
    assert ed.text() == "some text"


def test_help_tags_build_and_resolve(editor: Callable[..., Any], tmp_path: Path) -> None:
    ed = editor()
    doc = tmp_path / "rtp" / "doc"
    doc.mkdir(parents=True)
    source = ed.lua("return vim.api.nvim_get_runtime_file('doc/llm_flows.txt', false)[1]")
    (doc / "llm_flows.txt").write_bytes(Path(source).read_bytes())
    ed.nvim.command(f"helptags {doc}")
    ed.nvim.command(f"set rtp^={doc.parent}")
    for tag in ("llm_flows", ":LlmCorrect", "llm_flows.pending()", "<Plug>(LlmCorrect)"):
        ed.nvim.command(f"help {tag}")
        assert ed.nvim.current.buffer.name.endswith("llm_flows.txt")
        ed.nvim.command("helpclose")


# Each look's attributes as Neovim resolves them, for the colour mode in effect.
RESOLVED_LOOKS = """
local out = {}
for _, name in ipairs({'LlmFlowsPending', 'LlmFlowsConflict', 'LlmFlowsProposal'}) do
  out[name] = vim.api.nvim_get_hl_by_name(name, vim.o.termguicolors)
end
return out
"""
SHOWS = {"background", "foreground", "underline", "undercurl", "reverse", "bold"}


@pytest.mark.parametrize("colours", ["termguicolors", "notermguicolors"])
@pytest.mark.parametrize("background", ["dark", "light"])
def test_the_default_looks_show_in_every_colour_mode(
    editor: Callable[..., Any], colours: str, background: str
) -> None:
    """0.10+'s default CursorLine has no cterm attributes: a pending region linked to it
    was invisible in a 256-colour terminal. Every look must show, before the first flow
    and after a colorscheme reset all highlights (`:hi clear`)."""
    ed = editor()
    ed.nvim.command(f"set {colours} background={background}")
    for moment in ("at startup", "after :colorscheme", "after another :colorscheme"):
        looks = ed.lua(RESOLVED_LOOKS)
        for name, attributes in looks.items():
            assert SHOWS & set(attributes), f"{name} {moment}: {attributes}"
        assert looks["LlmFlowsPending"].get("underline"), looks  # subtle: keeps the text's colours
        assert set(looks["LlmFlowsPending"]) == {"underline"}, looks
        ed.nvim.command("colorscheme default")


def test_a_users_look_wins_over_the_default(editor: Callable[..., Any]) -> None:
    ed = editor(scripted={"rules": [{"when": "HANG", "hang": True}]})
    ed.lua("vim.api.nvim_set_hl(0, 'LlmFlowsPending', {ctermbg = 52, bg = '#5f0000'})")
    ed.set_text("HANG on")
    ed.nvim.command("LlmCorrect")  # the first flow defines the looks again
    marks = ed.lua(
        "local ns = vim.api.nvim_create_namespace('llm_flows')"
        " return vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, {details = true})"
    )
    assert [m[3]["hl_group"] for m in marks] == ["LlmFlowsPending"]
    assert ed.lua("return vim.api.nvim_get_hl_by_name('LlmFlowsPending', false)") == {
        "background": 52
    }


def test_a_long_message_is_cut_to_the_message_line_so_no_prompt_stops_the_user(
    editor: Callable[..., Any],
) -> None:
    """Neovim's own vim.notify shows it cut; :LlmStatus keeps it whole; a notifier gets it whole."""
    ed = editor(scripted={"replace": {"teh": "the"}})
    ed.nvim.command("file a-rather-long-file-name-for-a-narrow-window.txt")
    ed.set_text("teh one")
    ed.nvim.command("set columns=60")
    ed.lua("vim.notify = _G.llm_builtin_notify")
    ed.nvim.command("LlmCorrect")
    ed.wait_text("the one")
    ed.wait_idle()
    whole = "correct (a-rather-long-file-name-for-a-narrow-window.txt): 1 change(s) applied"
    shown = ed.nvim.call("execute", "messages").strip().splitlines()[-1]
    room = ed.nvim.eval("v:echospace")
    assert shown.endswith("…") and ed.nvim.call("strdisplaywidth", shown) == room, (shown, room)
    assert ("llm-flows: " + whole).startswith(shown[:-1])
    assert whole in ed.nvim.call("execute", "LlmStatus")
    ed.lua("vim.notify = function(msg) table.insert(_G.llm_notes, {msg = msg}) end")
    ed.lua("require('llm_flows.ui').notify(...)", "x" * 200 + "\nsecond line")
    assert ed.notes()[-1] == "llm-flows: " + "x" * 200 + " second line"
