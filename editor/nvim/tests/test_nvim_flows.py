"""The Neovim plugin end to end: real Neovim, real daemon, scripted model.

Every test looks at what a user sees: the buffer's text, the cursor, what one
`u` undoes, the messages, the conflict marks.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.nvim

FIXES = {"teh": "the", "buyed": "bought"}
PENDING_FOR = 2.0  # seconds the model waits, while the test types into the region


def conflict_marks(ed: Any) -> list[tuple[int, int, str]]:
    """(row, col, virtual text) of each conflict mark in the current buffer."""
    return [
        (row, col, "".join(chunk[0] for chunk in details["virt_text"]))
        for _, row, col, details in ed.lua(
            "local ns = vim.api.nvim_create_namespace('llm_flows')"
            " return vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, {details = true})"
        )
        if details.get("virt_text")
    ]


def test_typing_inside_and_outside_the_region_is_kept(editor: Callable[..., Any]) -> None:
    ed = editor(scripted={"replace": FIXES, "delay": PENDING_FOR})
    ed.set_text("Before.\nI saw teh cat.\nHe buyed it.\nAfter.")
    ed.nvim.command("2,3LlmCorrect")
    ed.keys("ggA more<Esc>2GIThen <Esc>3GA Yes.<Esc>4G03l")
    ed.wait_text("Before. more\nThen I saw teh cat.\nHe buyed it. Yes.\nAfter.")
    assert len(ed.pending()) == 1  # the model is still working

    ed.wait_idle()
    assert ed.text() == "Before. more\nThen I saw the cat.\nHe bought it. Yes.\nAfter."
    assert ed.cursor() == (4, 3)
    assert ed.notes()[-1] == "llm-flows: correct (buffer 1): 2 change(s) applied"
    ed.nvim.command("undo")
    assert ed.text() == "Before. more\nThen I saw teh cat.\nHe buyed it. Yes.\nAfter."


def test_non_ascii_text_lands_on_the_right_characters(editor: Callable[..., Any]) -> None:
    ed = editor(scripted={"replace": {"teh": "thé", "buyed": "bought 😀"}})
    line = "Ça va — teh café ☕ 日本語 buyed 終わり 🎉 fin"
    ed.set_text(f"{line}\n二行目 teh")
    cursor_col = len(line.split("終", maxsplit=1)[0].encode())  # on 終, after the second edit
    ed.nvim.api.win_set_cursor(0, (1, cursor_col))
    ed.nvim.command("%LlmCorrect")
    ed.wait_idle()
    fixed = "Ça va — thé café ☕ 日本語 bought 😀 終わり 🎉 fin"
    assert ed.text() == f"{fixed}\n二行目 thé"
    assert ed.cursor() == (1, len(fixed.split("終", maxsplit=1)[0].encode()))
    ed.nvim.command("undo")
    assert ed.text() == f"{line}\n二行目 teh"


def test_a_conflict_accepted_and_one_rejected(editor: Callable[..., Any]) -> None:
    ed = editor(scripted={"replace": FIXES, "delay": PENDING_FOR})
    ed.set_text("I saw teh cat and then he buyed it, and teh dog buyed teh bone.")
    ed.nvim.command("LlmCorrect")
    ed.nvim.command("s/teh cat/ten cat/ | s/he buyed/he paid/")
    ed.wait_note("3 change(s) applied, 2 to review")
    assert ed.text() == "I saw ten cat and then he paid it, and the dog bought the bone."
    text = ed.text()
    after = [len(text.split(word)[0] + word) for word in ("ten", "paid")]
    # Each proposal shows right after the text it would replace ("ten → the").
    assert conflict_marks(ed) == [(0, after[0], " → the "), (0, after[1], " → bought ")]

    ed.nvim.api.win_set_cursor(0, (1, ed.text().index("ten") + 1))
    ed.nvim.command("LlmAccept")
    assert ed.cursor() == (1, ed.text().index("the cat"))
    ed.nvim.api.win_set_cursor(0, (1, ed.text().index("paid")))
    ed.nvim.command("LlmReject")
    assert ed.text() == "I saw the cat and then he paid it, and the dog bought the bone."
    assert ed.cursor() == (1, ed.text().index("paid"))
    assert conflict_marks(ed) == []
    ed.nvim.command("undo")
    assert ed.text() == "I saw ten cat and then he paid it, and the dog bought the bone."


def test_review_shows_every_edit_before_applying(editor: Callable[..., Any]) -> None:
    ed = editor(scripted={"replace": FIXES}, review=True)
    ed.set_text("I saw teh cat.\nHe buyed it.")
    ed.nvim.command("%LlmCorrect")
    ed.wait_note("2 to review")
    assert ed.text() == "I saw teh cat.\nHe buyed it."
    ed.nvim.command("LlmAcceptAll")
    assert ed.text() == "I saw the cat.\nHe bought it."
    ed.nvim.command("undo")
    assert ed.text() == "I saw teh cat.\nHe buyed it."


def test_a_result_the_user_outran_is_dropped(editor: Callable[..., Any]) -> None:
    ed = editor(scripted={"replace": FIXES, "delay": PENDING_FOR})
    ed.set_text("I saw teh cat.")
    ed.nvim.command("LlmCorrect")
    ed.keys("ccA completely different sentence now stands here.<Esc>")
    ed.wait_text("A completely different sentence now stands here.")
    note = ed.wait_note("dropped")
    ed.wait_idle()
    assert ed.text() == "A completely different sentence now stands here."
    assert ed.cursor() == (1, len("A completely different sentence now stands here"))
    assert "dropped: " in note and len(note.split("dropped: ")[1]) > 5  # says why
    ed.nvim.command("undo")  # the user's own change, nothing of the model's
    assert ed.text() == "I saw teh cat."


def test_a_failed_flow_is_reported(editor: Callable[..., Any]) -> None:
    ed = editor(scripted={"rules": [{"when": "FAIL", "fail": "scripted failure"}]})
    ed.set_text("please FAIL teh test")
    ed.nvim.command("LlmCorrect")
    assert "scripted failure" in ed.wait_note("failed")
    ed.wait_idle()
    assert ed.text() == "please FAIL teh test"


def test_cancel_the_flow_under_the_cursor_then_all(editor: Callable[..., Any]) -> None:
    ed = editor(scripted={"rules": [{"when": "HANG", "hang": True}]})
    ed.set_text("one HANG\ntwo HANG\nthree HANG")
    for line in (1, 2, 3):
        ed.nvim.command(f"{line}LlmCorrect")
    assert len(ed.pending()) == 3
    ed.nvim.api.win_set_cursor(0, (2, 1))
    ed.nvim.command("LlmCancel")
    assert [f["range"][0] for f in ed.pending()] == [0, 2]
    status = ed.nvim.call("execute", "LlmStatus")
    assert "correct" in status and "lines 1-1" in status and "lines 2-2" not in status
    ed.nvim.command("LlmCancel!")
    assert ed.pending() == []
    assert "cancelled 2 flow(s)" in ed.notes()[-1]
    assert ed.text() == "one HANG\ntwo HANG\nthree HANG"
    assert ed.cursor() == (2, 1)


# The states of the flows the daemon knows, as its flow/list answers.
DAEMON_STATES = (
    "local e, r = require('llm_flows')._session().rpc:request_sync('flow/list', nil, 5000)"
    " return vim.tbl_map(function(f) return f.state end, r.flows)"
)


def test_a_flow_cancelled_before_the_daemon_answered_is_cancelled_there(
    editor: Callable[..., Any],
) -> None:
    ed = editor(scripted={"rules": [{"when": "HANG", "hang": True}]})
    ed.set_text("HANG on")
    ed.nvim.command("LlmCorrect | LlmCancel")
    assert ed.pending() == []
    ed.wait(lambda: ed.lua(DAEMON_STATES) == ["cancelled"], "the daemon to cancel the flow")


def test_two_flows_in_two_buffers(editor: Callable[..., Any]) -> None:
    ed = editor(scripted={"replace": FIXES, "delay": 0.5})
    ed.set_text("teh first\nmiddle\nbuyed last")
    first = ed.nvim.api.get_current_buf().number
    ed.nvim.command("1LlmCorrect | 3LlmCorrect")
    ed.nvim.command("enew")
    ed.nvim.command("file notes.md")
    ed.set_text("other teh buffer")
    ed.nvim.command("LlmCorrect")
    assert len(ed.pending()) == 3
    ed.wait_idle()
    assert ed.text() == "other the buffer"
    assert ed.text(first) == "the first\nmiddle\nbought last"
    assert "llm-flows: correct (notes.md): 1 change(s) applied" in ed.notes()
    ed.nvim.command("undo")
    assert ed.text() == "other teh buffer"
    ed.nvim.command(f"buffer {first}")
    ed.nvim.command("undo")  # one flow's correction, the other stays
    assert ed.text() in ("teh first\nmiddle\nbought last", "the first\nmiddle\nbuyed last")
    ed.nvim.command("undo")
    assert ed.text() == "teh first\nmiddle\nbuyed last"


def test_deleting_the_region_drops_its_flow(editor: Callable[..., Any]) -> None:
    ed = editor(scripted={"replace": FIXES, "delay": PENDING_FOR})
    ed.set_text("keep teh one\nteh doomed line\nkeep teh two")
    ed.nvim.command("2LlmCorrect")
    ed.keys("2Gdd")
    assert "its region was deleted" in ed.wait_note("dropped")
    assert ed.pending() == []
    assert ed.text() == "keep teh one\nkeep teh two"
    assert ed.cursor() == (2, 0)
    ed.nvim.command("undo")
    assert ed.text() == "keep teh one\nteh doomed line\nkeep teh two"


def test_wiping_the_buffer_cancels_its_flows(editor: Callable[..., Any]) -> None:
    ed = editor(scripted={"rules": [{"when": "HANG", "hang": True}]})
    ed.nvim.command("enew")
    ed.set_text("HANG on")
    ed.nvim.command("LlmCorrect")
    ed.wait(lambda: ed.pending()[0].get("id"), "the daemon to take the flow")
    ed.nvim.command("bwipeout!")
    assert ed.pending() == []
    ed.wait(lambda: ed.lua(DAEMON_STATES) == ["cancelled"], "the daemon to cancel the flow")


def test_a_killed_daemon_loses_its_flows_and_restarts(editor: Callable[..., Any]) -> None:
    ed = editor(scripted={"replace": FIXES, "rules": [{"when": "HANG", "hang": True}]})
    ed.set_text("HANG teh\nteh after")
    ed.nvim.command("1LlmCorrect")
    ed.wait(lambda: ed.pending()[0].get("id"), "the daemon to take the flow")
    pid = ed.lua("return require('llm_flows')._session().rpc:pid()")
    os.kill(pid, signal.SIGKILL)
    assert "lost: correct" in ed.wait_note("daemon exited")
    assert ed.pending() == []

    ed.nvim.command("2LlmCorrect")
    ed.wait_text("HANG teh\nthe after")
    assert ed.lua("return require('llm_flows')._session().rpc:pid()") != pid
    ed.nvim.command("undo")
    assert ed.text() == "HANG teh\nteh after"


def test_a_daemon_told_to_stop_reports_the_flows_it_cancelled(
    editor: Callable[..., Any],
) -> None:
    ed = editor(scripted={"rules": [{"when": "HANG", "hang": True}]})
    ed.set_text("HANG teh")
    ed.nvim.command("LlmCorrect")
    ed.wait(lambda: ed.pending()[0].get("id"), "the daemon to take the flow")
    os.kill(ed.lua("return require('llm_flows')._session().rpc:pid()"), signal.SIGTERM)
    note = ed.wait_note("cancelled by the daemon")
    assert note.startswith("llm-flows: correct (buffer 1) was cancelled by the daemon: ")
    assert ed.pending() == []
    assert ed.text() == "HANG teh"


def test_a_stuck_daemon_holds_up_one_merge_only(editor: Callable[..., Any]) -> None:
    ed = editor(scripted={"replace": FIXES, "delay": 0.3})
    ed.lua("require('llm_flows')._session().merge_wait_ms = 500")
    ed.set_text("teh one\nteh two\nteh three")
    ed.nvim.command("1LlmCorrect | 2LlmCorrect | 3LlmCorrect")
    ed.keys("GA!")
    ed.wait(lambda: [f["state"] for f in ed.pending()] == ["waiting"] * 3, "3 waiting flows")
    pid = ed.lua("return require('llm_flows')._session().rpc:pid()")
    os.kill(pid, signal.SIGSTOP)
    try:
        ed.keys("<Esc>")
        note = ed.wait_note("not merged")
        assert "flow/merge got no answer within 0.5 s; the daemon was stopped" in note
        assert "lost: correct (buffer 1), correct (buffer 1)" in ed.wait_note("lost: ")
        assert [n for n in ed.notes() if "not merged" in n] == [note]  # waited once, not 3 times
    finally:
        with contextlib.suppress(ProcessLookupError):  # gone once Neovim's jobstop killed it
            os.kill(pid, signal.SIGCONT)
    assert ed.pending() == []
    assert ed.text() == "teh one\nteh two\nteh three!"
    ed.nvim.command("1LlmCorrect")
    ed.wait_text("the one\nteh two\nteh three!")


def test_a_result_waits_for_insert_mode_to_end(editor: Callable[..., Any]) -> None:
    ed = editor(scripted={"replace": FIXES, "delay": 1.0})
    ed.set_text("I saw teh cat.")
    ed.nvim.command("LlmCorrect")
    ed.keys("A More")
    ed.wait_state("waiting")
    assert ed.mode() == "i"
    assert ed.text() == "I saw teh cat. More"

    ed.keys("<Esc>")
    ed.wait_text("I saw the cat. More")
    assert ed.cursor() == (1, len("I saw the cat. Mor"))
    ed.nvim.command("undo")
    assert ed.text() == "I saw teh cat. More"
    ed.nvim.command("undo")
    assert ed.text() == "I saw teh cat."


def test_operator_and_visual_mappings(editor: Callable[..., Any]) -> None:
    ed = editor(scripted={"replace": FIXES})
    ed.nvim.command("nmap gl <Plug>(LlmCorrect)")
    ed.nvim.command("xmap gl <Plug>(LlmCorrect)")
    ed.set_text("I saw teh cat. He buyed teh car.")
    ed.keys("0glt.")  # the operator over "I saw teh cat"
    ed.wait_text("I saw the cat. He buyed teh car.")
    ed.keys("0fHvfdgl")  # the selection "He buyed"
    ed.wait_text("I saw the cat. He bought teh car.")


@pytest.mark.parametrize("on", ["b", "y"])
def test_a_cursor_on_a_corrected_word_stays_on_it(editor: Callable[..., Any], on: str) -> None:
    """Not pushed past the replacement: it moves to the corrected word's start."""
    ed = editor(scripted={"replace": FIXES})
    ed.set_text("He buyed it and teh rest.")
    ed.nvim.api.win_set_cursor(0, (1, ed.text().index(on)))
    ed.nvim.command("LlmCorrect")
    ed.wait_text("He bought it and the rest.")
    assert ed.cursor() == (1, len("He "))


def test_a_region_of_many_lines_is_corrected_on_every_line(editor: Callable[..., Any]) -> None:
    ed = editor(scripted={"replace": FIXES, "context_tokens": 100_000})
    lines = [f"teh line {i} buyed" for i in range(300)]  # edits at line starts and ends
    ed.set_text("\n".join(lines))
    ed.nvim.api.win_set_cursor(0, (150, 0))
    ed.nvim.command("%LlmCorrect")
    ed.wait_text("\n".join(f"the line {i} bought" for i in range(300)))
    assert ed.cursor() == (150, 0)
    ed.nvim.command("undo")
    assert ed.lines() == lines


def test_a_buffer_that_cannot_change_is_refused_before_the_model_runs(
    editor: Callable[..., Any],
) -> None:
    ed = editor(scripted={"replace": FIXES})
    ed.set_text("teh help text")
    ed.nvim.command("setlocal nomodifiable | LlmCorrect")
    assert ed.notes() == ["llm-flows: cannot correct buffer 1: it is not 'modifiable'"]
    assert ed.pending() == []
    assert ed.lua("return require('llm_flows')._session().rpc") is None  # no daemon started


def test_a_result_after_a_normal_mode_change_is_its_own_undo_step(
    editor: Callable[..., Any],
) -> None:
    ed = editor(scripted={"replace": FIXES, "delay": 1.0})
    ed.set_text("I saw teh cat.\nxy")
    ed.nvim.command("1LlmCorrect")
    ed.keys("2G$x")  # the last key before the result lands
    ed.wait_text("I saw the cat.\nx")
    ed.nvim.command("undo")
    assert ed.text() == "I saw teh cat.\nx"
    ed.nvim.command("undo")
    assert ed.text() == "I saw teh cat.\nxy"
