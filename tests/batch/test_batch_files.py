"""Reading, atomic writing, walking folders, the cache and the progress bar, on real files."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from llm_flows.batch.cache import Cache
from llm_flows.batch.progress import Progress
from llm_flows.batch.report import Summary, unified_diff
from llm_flows.batch.run import Batch, Result, TextCorrector
from llm_flows.batch.textfile import ChangedOnDisk, NotText, atomic_write, decode, read_text
from llm_flows.batch.walk import find_files
from testkit import need_executable


def test_crlf_and_bom_survive_a_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(b"\xef\xbb\xbfOne teh\r\nTwo\r\n")
    text = read_text(path)
    assert text.text == "One teh\nTwo\n"
    assert text.encode("One the\nTwo\n") == b"\xef\xbb\xbfOne the\r\nTwo\r\n"


def test_mixed_line_endings_are_left_as_they_are() -> None:
    text = decode(b"a\r\nb\nc\r\n")
    assert text.text == "a\r\nb\nc\r\n"
    assert text.encode(text.text) == b"a\r\nb\nc\r\n"


def test_binary_and_latin1_are_not_text() -> None:
    with pytest.raises(NotText, match="binary"):
        decode(b"PK\x03\x04\0\0")
    with pytest.raises(NotText, match="not UTF-8"):
        decode("café".encode("latin-1"))


def test_atomic_write_keeps_mode_and_symlink_and_leaves_no_temp(tmp_path: Path) -> None:
    real = tmp_path / "real.md"
    real.write_text("old\n")
    real.chmod(0o640)
    link = tmp_path / "link.md"
    link.symlink_to(real)
    atomic_write(link, b"new\n")
    assert link.is_symlink()
    assert real.read_bytes() == b"new\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.md", "real.md"]


def test_atomic_write_refuses_a_read_only_file(tmp_path: Path) -> None:
    path = tmp_path / "ro.md"
    path.write_text("old\n")
    path.chmod(0o444)
    if os.geteuid() == 0:
        need_executable("chattr")
        subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        with pytest.raises(PermissionError):
            atomic_write(path, b"new\n")
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["ro.md"]


def test_atomic_write_refuses_to_replace_a_save_made_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_bytes(b"saved by the user\n")
    with pytest.raises(ChangedOnDisk):
        atomic_write(path, b"correction\n", expected=b"what was read\n")
    assert path.read_bytes() == b"saved by the user\n"
    assert [p.name for p in tmp_path.iterdir()] == ["note.md"]
    atomic_write(path, b"correction\n", expected=b"saved by the user\n")
    assert path.read_bytes() == b"correction\n"


def write_while_the_user_saves(
    path: Path, monkeypatch: pytest.MonkeyPatch, saves: list[str]
) -> Result:
    """Correct ``path`` (teh -> the) in place; each flush to disk lands the next of ``saves``.

    The saves come while the corrected file is being written, before its rename.
    """

    async def fix(text: str) -> str:
        return text.replace("teh", "the")

    batch = Batch(
        TextCorrector(fix, Cache(path.parent / "cache", enabled=False), str),
        mode="in-place",
        jobs=1,
        out=io.StringIO(),
        progress=Progress(1, io.StringIO(), enabled=False),
    )
    write = asyncio.run(batch.prepare(path))
    assert callable(write)
    real_fsync = os.fsync
    pending = list(saves)

    def fsync_while_the_user_saves(fd: int) -> None:
        real_fsync(fd)
        if pending:
            path.write_text(pending.pop(0))

    monkeypatch.setattr(os, "fsync", fsync_while_the_user_saves)
    return write()


def test_a_save_during_the_write_is_merged_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "note.md"
    path.write_text("I saw teh cat.\n\nThe dog sat.\n")
    saved = "I saw teh cat.\n\nThe big dog sat.\n"
    assert write_while_the_user_saves(path, monkeypatch, [saved]) == Result("changed")
    assert path.read_text() == "I saw the cat.\n\nThe big dog sat.\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["note.md"]


def test_a_file_that_keeps_changing_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "note.md"
    path.write_text("I saw teh cat.\n\nThe dog sat.\n")
    saves = [f"I saw teh cat.\n\nThe dog sat {n}.\n" for n in range(5)]
    result = write_while_the_user_saves(path, monkeypatch, saves)
    assert result == Result("dropped", note="dropped: the file kept changing while it was written")
    assert path.read_text() == saves[2]  # the third try's save: nothing was renamed over it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["note.md"]


def make_tree(root: Path) -> None:
    (root / "docs" / "sub").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "build").mkdir()
    (root / "docs" / "a.md").write_text("a\n")
    (root / "docs" / "sub" / "b.txt").write_text("b\n")
    (root / "docs" / "code.py").write_text("x = 1\n")
    (root / "docs" / ".secret.md").write_text("s\n")
    (root / ".hidden" / "h.md").write_text("h\n")
    (root / "build" / "out.md").write_text("o\n")
    (root / "docs" / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")
    (root / "notes.md").write_text("n\n")


def names(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


def test_walk_without_git_skips_hidden_and_binary(tmp_path: Path) -> None:
    make_tree(tmp_path)
    found = find_files([str(tmp_path)])
    assert names(found.files, tmp_path) == [
        "build/out.md",
        "docs/a.md",
        "docs/sub/b.txt",
        "notes.md",
    ]
    assert names([p for p, _ in found.skipped], tmp_path) == ["docs/image.md"]


def test_walk_in_a_git_work_tree_honours_gitignore(tmp_path: Path) -> None:
    git = need_executable("git")
    make_tree(tmp_path)
    subprocess.run([git, "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("build/\n")
    (tmp_path / "docs" / ".gitignore").write_text("b.txt\n")
    found = find_files([str(tmp_path)])
    assert names(found.files, tmp_path) == ["docs/a.md", "notes.md"]
    found = find_files([str(tmp_path / "docs")])
    assert names(found.files, tmp_path) == ["docs/a.md"]


def test_include_exclude_and_named_files(tmp_path: Path) -> None:
    make_tree(tmp_path)
    found = find_files([str(tmp_path)], include=["*.py", "*.txt"], exclude=["sub/*"])
    assert names(found.files, tmp_path) == ["docs/code.py"]
    named = tmp_path / "docs" / "code.py"
    found = find_files([str(named), str(tmp_path / "nope.md"), str(named)])
    assert found.files == [named]
    assert found.missing == [str(tmp_path / "nope.md")]


def test_cache_round_trip_and_disabled(tmp_path: Path) -> None:
    key = Cache.key("teh text", flow="correct", model="spell")
    assert key != Cache.key("teh text", flow="correct", model="other")
    cache = Cache(tmp_path / "c")
    assert cache.get(key) is None
    cache.put(key, "the text")
    assert cache.get(key) == "the text"
    off = Cache(tmp_path / "c", enabled=False)
    assert off.get(key) is None


def test_progress_bar_with_a_manual_clock() -> None:
    now = [100.0]
    stream = io.StringIO()
    bar = Progress(4, stream, enabled=True, clock=lambda: now[0])
    now[0] += 2.0
    bar.advance()
    assert bar.render() == "[######------------------] 1/4 files  0.5/s  ETA 0:06"
    bar.note("a note")
    bar.close()
    assert "a note\n" in stream.getvalue()
    assert stream.getvalue().endswith("\r\x1b[K")
    quiet = io.StringIO()
    Progress(4, quiet).advance()
    assert quiet.getvalue() == ""


def test_diff_is_patchable(tmp_path: Path) -> None:
    patch = need_executable("patch")
    (tmp_path / "f.md").write_text("one teh\ntwo")
    diff = unified_diff("f.md", "one teh\ntwo", "one the\ntwo")
    assert "\\ No newline at end of file" in diff
    subprocess.run([patch, "-s", "-p1"], input=diff.encode(), cwd=tmp_path, check=True)
    assert (tmp_path / "f.md").read_text() == "one the\ntwo"


def test_summary_line_and_exit_codes() -> None:
    summary = Summary(total=3)
    for outcome in ("changed", "unchanged", "skipped"):
        summary.add(outcome)  # type: ignore[arg-type]
    assert summary.line("check", 1.25) == (
        "llm-flows correct: 2 files, 1 would change, 1 unchanged, 0 dropped, 0 failed, "
        "1 skipped (1.2s)"
    )
    assert summary.exit_code("check") == 1
    assert summary.exit_code("in-place") == 0
    summary.add("failed")
    assert summary.exit_code("check") == 2


def test_git_is_optional(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_tree(tmp_path)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert len(find_files([str(tmp_path)]).files) == 4
