"""``llm-flows correct`` as a user runs it: a real subprocess on real files in a tmp folder."""

from __future__ import annotations

import os
import pty
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from testkit import need_executable, run_cli, toml_value

GATE_PLUGIN = Path(__file__).with_name("gate_plugin.py")

SAMPLE = """\
---
title: Teh recieved notes
tags: [feild]
---

# Notes from the feild

Yesterday I recieved the new laptop; it is definately faster.
See https://example.com/recieved-feild and [the guide](https://x.org/feild "feild").
Run `recieved --feild` to check.

```python
def recieve(feild):  # code is never touched
    return feild
```

    indented recieved code

Next time I will remeber.
"""


def llm_flows(
    *args: str, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    return run_cli("correct", *args, stdin=stdin, cwd=cwd)


@pytest.fixture
def isolated(write_config: Callable[..., Path]) -> Callable[..., Path]:
    """XDG folders in the test's tmp folder (the cache too), default (offline) model."""
    return write_config


@pytest.fixture
def gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated: Callable[..., Path]
) -> Callable[..., Path]:
    """``gate(**settings)``: make the default model wait for ``<folder>/go``; the folder."""

    def configure(**settings: object) -> Path:
        return gate_config(tmp_path, monkeypatch, **settings)

    return configure


def gate_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **settings: object) -> Path:
    """A config whose default model waits for ``tmp_path/gate/go`` (see gate_plugin.py)."""
    folder = tmp_path / "gate"
    folder.mkdir(exist_ok=True)
    lines = [
        f"plugins = {toml_value([str(GATE_PLUGIN)])}",
        'default_model = "gate"',
        "[models.gate]",
        'backend = "gate"',
        f"folder = {toml_value(str(folder))}",
        'replace = { teh = "the" }',
    ]
    lines += [f"{key} = {toml_value(value)}" for key, value in settings.items()]
    path = tmp_path / "gate.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("LLM_FLOWS_CONFIG", str(path))
    return folder


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll a condition another process will make true (not a timing assertion)."""
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    """Make ``path`` unwritable, even for root (who ignores permission bits)."""
    path.chmod(0o444)
    if os.geteuid() == 0:
        chattr = need_executable("chattr")
        subprocess.run([chattr, "+i", str(path)], check=True)
    try:
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run([chattr, "-i", str(path)], check=True)
        path.chmod(0o644)


def protected_parts(text: str) -> list[str]:
    front = text.split("---\n")[1]
    code = text[text.index("```python") : text.index("```\n\n") + 4]
    return [
        front,
        code,
        "    indented recieved code\n",
        "https://example.com/recieved-feild",
        '(https://x.org/feild "feild")',
        "`recieved --feild`",
    ]


def test_offline_model_corrects_typos_and_leaves_code_urls_and_front_matter(
    tmp_path: Path, isolated: Callable[..., Path]
) -> None:
    path = tmp_path / "notes.md"
    path.write_text(SAMPLE, encoding="utf-8")
    result = llm_flows("--in-place", str(path))
    assert result.returncode == 0, result.stderr
    text = path.read_text(encoding="utf-8")
    for word in ("Notes from the field", "I received", "definitely", "will remember"):
        assert word in text
    for part in protected_parts(SAMPLE):
        assert part in text, part
    expected = SAMPLE
    for wrong, right in (
        ("from the feild", "from the field"),
        ("I recieved", "I received"),
        ("definately", "definitely"),
        ("remeber", "remember"),
    ):
        expected = expected.replace(wrong, right)
    assert text == expected  # those fixes and nothing else
    assert "1 file, 1 changed, 0 unchanged, 0 dropped, 0 failed" in result.stderr.decode()


def test_diff_is_the_default_and_writes_nothing(
    tmp_path: Path, isolated: Callable[..., Path]
) -> None:
    path = tmp_path / "notes.md"
    path.write_text(SAMPLE, encoding="utf-8")
    result = llm_flows("notes.md", cwd=tmp_path)
    assert result.returncode == 0
    out = result.stdout.decode()
    assert out.startswith("--- a/notes.md\n+++ b/notes.md\n")
    assert "-# Notes from the feild\n+# Notes from the field\n" in out
    assert path.read_text(encoding="utf-8") == SAMPLE
    patch = need_executable("patch")
    subprocess.run([patch, "-s", "-p1"], input=result.stdout, cwd=tmp_path, check=True)
    assert "I received" in path.read_text(encoding="utf-8")


def test_check_exit_codes(tmp_path: Path, isolated: Callable[..., Path]) -> None:
    dirty, clean = tmp_path / "dirty.md", tmp_path / "clean.md"
    dirty.write_text("I recieved it.\n")
    clean.write_text("I received it.\n")
    found = llm_flows("--check", str(tmp_path))
    assert found.returncode == 1
    assert found.stdout == b""
    assert f"{dirty}: would change" in found.stderr.decode()
    assert dirty.read_text() == "I recieved it.\n"
    assert llm_flows("--check", str(clean)).returncode == 0


def test_stdin_filter(isolated: Callable[..., Path]) -> None:
    result = llm_flows("-", stdin=b"I recieved `recieved` it.\r\n")
    assert result.returncode == 0
    assert result.stdout == b"I received `recieved` it.\r\n"
    assert result.stderr == b""  # an editor filter puts stderr into the buffer too
    assert llm_flows("--check", "-", stdin=b"I recieved it.").returncode == 1


def test_filter_from_neovim(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    """``:2,3!llm-flows correct -`` in a real Neovim corrects those lines and no others."""
    nvim = need_executable("nvim")
    path = tmp_path / "note.md"
    path.write_text("I recieved it.\nI recieved teh mail.\nFAIL here.\nI recieved more.\n")
    command = f"{shlex.quote(sys.executable)} -m llm_flows correct -"

    def filter_lines(lines: str) -> str:
        subprocess.run(
            [
                nvim,
                "--headless",
                "-u",
                "NONE",
                "-i",
                "NONE",
                "-n",
                str(path),
                "-c",
                f"{lines}!{command}",
                "-c",
                "wq",
            ],
            capture_output=True,
            timeout=120,
            check=True,
        )
        return path.read_text()

    assert (
        filter_lines("2") == "I recieved it.\nI received the mail.\nFAIL here.\nI recieved more.\n"
    )
    write_config(
        scripted={"rules": [{"when": "FAIL", "fail": "scripted failure"}]}, default_model="scripted"
    )
    after = filter_lines("3")  # the model fails: the line stays, the message follows it
    assert after.splitlines()[2:5] == [
        "FAIL here.",
        "llm-flows correct: -: scripted: scripted failure",
        "I recieved more.",
    ]


def test_stdin_failure_gives_the_text_back(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    write_config(
        scripted={"rules": [{"when": "FAIL", "fail": "scripted failure"}]}, default_model="scripted"
    )
    result = llm_flows("-", stdin=b"FAIL teh text\n")
    assert result.returncode == 2
    assert result.stdout == b"FAIL teh text\n"
    assert "scripted failure" in result.stderr.decode()


def test_crlf_files_keep_crlf(tmp_path: Path, isolated: Callable[..., Path]) -> None:
    path = tmp_path / "dos.txt"
    path.write_bytes(b"I recieved it.\r\nSecond line.\r\n")
    assert llm_flows("--in-place", str(path)).returncode == 0
    assert path.read_bytes() == b"I received it.\r\nSecond line.\r\n"


def test_binary_hidden_and_ignored_files_are_skipped(
    tmp_path: Path, isolated: Callable[..., Path]
) -> None:
    git = need_executable("git")
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / ".drafts").mkdir()
    subprocess.run([git, "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("ignored.md\n")
    files = {
        "docs/a.md": "I recieved it.\n",
        "ignored.md": "I recieved it.\n",
        ".drafts/b.md": "I recieved it.\n",
        "docs/code.py": "# I recieved it.\n",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    binary = b"I recieved\0\x01\x02"
    (root / "docs" / "blob.md").write_bytes(binary)
    result = llm_flows("--in-place", str(root))
    assert result.returncode == 0, result.stderr
    assert (root / "docs/a.md").read_text() == "I received it.\n"
    for name in ("ignored.md", ".drafts/b.md", "docs/code.py"):
        assert (root / name).read_text() == files[name]
    assert (root / "docs" / "blob.md").read_bytes() == binary
    assert (
        "1 file, 1 changed, 0 unchanged, 0 dropped, 0 failed, 1 skipped" in result.stderr.decode()
    )


def test_an_unwritable_file_fails_and_the_others_are_done(
    tmp_path: Path, isolated: Callable[..., Path]
) -> None:
    good, locked = tmp_path / "good.md", tmp_path / "locked.md"
    good.write_text("I recieved it.\n")
    locked.write_text("I recieved it too.\n")
    with immutable(locked):
        result = llm_flows("--in-place", str(tmp_path))
    assert result.returncode == 2
    assert good.read_text() == "I received it.\n"
    assert locked.read_text() == "I recieved it too.\n"
    err = result.stderr.decode()
    assert f"{locked}: failed: cannot write" in err
    assert "2 files, 1 changed, 0 unchanged, 0 dropped, 1 failed" in err
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".md") == [
        "good.md",
        "locked.md",
    ]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_model_failure_fails_that_file_only(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    write_config(
        scripted={
            "replace": {"teh": "the"},
            "rules": [{"when": "FAIL", "fail": "scripted failure"}],
        },
        default_model="scripted",
    )
    (tmp_path / "docs").mkdir()
    ok, bad = tmp_path / "docs" / "ok.md", tmp_path / "docs" / "bad.md"
    ok.write_text("teh end is near\n")
    bad.write_text("FAIL teh end\n")
    result = llm_flows("--in-place", str(tmp_path / "docs"))
    assert result.returncode == 2
    assert ok.read_text() == "the end is near\n"
    assert bad.read_text() == "FAIL teh end\n"
    assert "bad.md: failed: scripted: scripted failure\n" in result.stderr.decode()


def test_usage_errors(tmp_path: Path, isolated: Callable[..., Path]) -> None:
    path = tmp_path / "a.md"
    path.write_text("text\n")
    for args, message in (
        (("--flow", "nope", str(path)), "unknown flow 'nope'"),
        (("-m", "nope", str(path)), "unknown model 'nope'"),
        (("--flow", "rewrite", str(path)), "needs an instruction"),
        (("--diff", "--in-place", str(path)), "choose one of"),
        ((str(tmp_path / "missing.md"),), "missing.md: no such file or folder"),
        (("-", str(path)), "cannot be mixed"),
        ((), "name files or folders"),
    ):
        result = llm_flows(*args)
        assert result.returncode == 2, args
        assert message in result.stderr.decode(), (args, result.stderr)
    assert path.read_text() == "text\n"


def test_more_jobs_than_the_model_takes_says_so(tmp_path: Path, gate: Callable[..., Path]) -> None:
    gate(free_calls=100, max_concurrency=2)
    for i in range(3):
        (tmp_path / f"f{i}.md").write_text("teh file\n")
    more = llm_flows("--check", "-j", "5", str(tmp_path))
    assert more.returncode == 1, more.stderr
    err = more.stderr.decode()
    assert "--jobs 5, but model 'gate' takes at most 2 calls at once (its max_concurrency)" in err
    assert "3 files, 3 would change" in err
    assert "--jobs" not in llm_flows("--check", "-j", "2", str(tmp_path)).stderr.decode()


def edit_while_correcting(path: Path, gate: Path, before: str, during: str) -> tuple[int, str]:
    """Run ``--in-place`` on ``path`` and rewrite the file while the model is busy with it."""
    path.write_text(before)
    process = subprocess.Popen(
        [sys.executable, "-m", "llm_flows", "correct", "--in-place", str(path)],
        stderr=subprocess.PIPE,
    )
    wait_for((gate / "called-1").exists, "the model to be called")
    path.write_text(during)  # the user keeps writing
    (gate / "go").touch()
    _, err = process.communicate(timeout=60)
    return process.returncode, err.decode()


def test_a_file_edited_during_correction_is_merged_not_clobbered(
    tmp_path: Path, gate: Callable[..., Path]
) -> None:
    path = tmp_path / "note.md"
    before = "I saw teh cat.\n\nThe dog sat.\n"
    code, err = edit_while_correcting(
        path, gate(), before, before.replace("dog sat", "big dog sat down")
    )
    assert code == 0, err
    assert path.read_text() == "I saw the cat.\n\nThe big dog sat down.\n"
    assert "1 changed" in err


def test_an_edit_that_conflicts_drops_the_correction_and_says_so(
    tmp_path: Path, gate: Callable[..., Path]
) -> None:
    path = tmp_path / "note.md"
    during = "Completely different words now\n"
    code, err = edit_while_correcting(path, gate(), "I saw teh cat on the mat today.\n", during)
    assert code == 0, err
    assert path.read_text() == during
    assert "note.md: dropped: changed while correcting" in err
    assert "0 changed, 0 unchanged, 1 dropped" in err


def test_cache_skips_what_is_done_and_no_cache_bypasses_it(
    tmp_path: Path, gate: Callable[..., Path]
) -> None:
    folder = gate(free_calls=100)
    path = tmp_path / "note.md"
    path.write_text("teh cat sat here\n")
    first = llm_flows(str(path))
    assert b"+the cat" in first.stdout
    assert llm_flows(str(path)).stdout == first.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["called-1"]
    assert llm_flows("--no-cache", str(path)).stdout == first.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["called-1", "called-2"]


def test_ctrl_c_leaves_every_file_old_or_new(tmp_path: Path, gate: Callable[..., Path]) -> None:
    gate(free_calls=3, max_concurrency=2)
    folder = tmp_path / "docs"
    folder.mkdir()
    old = {f"f{i}.md": f"teh file {i}\n" for i in range(8)}
    for name, text in old.items():
        (folder / name).write_text(text)
    process = subprocess.Popen(
        [sys.executable, "-m", "llm_flows", "correct", "--in-place", "-j", "2", str(folder)],
        stderr=subprocess.PIPE,
    )
    # two workers: a fifth call means the worker that made it finished file 3 (call 4 waits)
    wait_for((tmp_path / "gate" / "called-5").exists, "three files to be corrected")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    new = 0
    for name, text in old.items():
        now = (folder / name).read_text()
        assert now in (text, text.replace("teh", "the")), name
        new += now != text
    assert new == 3
    assert sorted(p.name for p in folder.iterdir()) == sorted(old)
    assert f"interrupted after {new} of 8 files: {new} files, {new} changed" in err.decode()


def test_progress_bar_on_a_terminal_only(tmp_path: Path, isolated: Callable[..., Path]) -> None:
    for i in range(3):
        (tmp_path / f"f{i}.md").write_text("I recieved it.\n")
    quiet = llm_flows("--check", str(tmp_path))
    assert "files" in quiet.stderr.decode()
    assert "\x1b[K" not in quiet.stderr.decode()
    primary, secondary = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "llm_flows", "correct", "--check", str(tmp_path)],
            stdout=subprocess.DEVNULL,
            stderr=secondary,
        )
        os.close(secondary)
        seen = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the terminal closes when the process exits
                break
            if not chunk:
                break
            seen += chunk
        assert process.wait(timeout=60) == 1
    finally:
        os.close(primary)
    text = seen.decode()
    assert "[########################] 3/3 files" in text
    assert "\r\x1b[K" in text
    assert "3 files, 3 would change" in text


def test_text_with_marker_characters_is_corrected_run_by_run(
    tmp_path: Path, isolated: Callable[..., Path]
) -> None:
    path = tmp_path / "odd.md"
    path.write_text("Brackets ⟦0⟧ here; I recieved `recieved` and https://x.org/recieved ok.\n")
    assert llm_flows("--in-place", str(path)).returncode == 0
    assert path.read_text() == (
        "Brackets ⟦0⟧ here; I received `recieved` and https://x.org/recieved ok.\n"
    )
