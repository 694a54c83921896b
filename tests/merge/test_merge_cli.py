"""``llm-flows merge`` run as a real subprocess on real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

LLM_FLOWS = Path(sys.executable).parent / "llm-flows"


def run(
    tmp_path: Path, *texts: bytes | str, args: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[bytes]:
    paths = []
    for name, content in zip(("base.txt", "ours.txt", "theirs.txt"), texts, strict=False):
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        paths.append(str(path))
    return subprocess.run(
        [str(LLM_FLOWS), "merge", *paths, *args], capture_output=True, check=False, timeout=60
    )


def test_clean_merge_prints_the_text_and_exits_0(tmp_path: Path) -> None:
    base = "She go to the store yesterday and buyed three apple.\r\n"
    done = run(
        tmp_path,
        base,
        base.replace("store", "market"),
        "She went to the store yesterday and bought three apples.\r\n",
    )
    assert done.stdout == b"She went to the market yesterday and bought three apples.\r\n"
    assert done.returncode == 0
    assert b"clean: 3 model changes applied" in done.stderr


def test_conflict_exits_1_and_names_it(tmp_path: Path) -> None:
    done = run(tmp_path, "The data is good.", "The results is good.", "The data are good.")
    assert (done.stdout, done.returncode) == (b"The results is good.", 1)
    stderr = done.stderr.decode()
    assert "conflict at 1:5: kept yours 'results is', withheld the model's 'data are'" in stderr
    assert "partial" in stderr


def test_dropped_exits_2_and_says_why(tmp_path: Path) -> None:
    done = run(tmp_path, "Some text here.", "", "Some text there.")
    assert (done.stdout, done.returncode) == (b"", 2)
    assert b"dropped: The region was deleted" in done.stderr


def test_json_output(tmp_path: Path) -> None:
    done = run(tmp_path, "teh cat", "teh cat", "the cat", args=("--json",))
    assert done.returncode == 0
    assert json.loads(done.stdout) == {
        "status": "clean",
        "edits": [{"start": 0, "end": 3, "text": "the"}],
        "conflicts": [],
        "divergence": 0.0,
        "reason": None,
    }


def test_policy_options(tmp_path: Path) -> None:
    done = run(
        tmp_path, "The quick fox.", "The quick fox.", "A slow dog!", args=("--max-rewrite", "0.2")
    )
    assert (done.stdout, done.returncode) == (b"The quick fox.", 2)
    assert b"The model rewrote" in done.stderr


@pytest.mark.parametrize(
    ("texts", "args", "message"),
    [
        (("a", "a"), (), "Missing argument 'THEIRS'"),
        (("a", "a", "a"), ("--max-divergence", "2"), "--max-divergence"),
        (("a", b"caf\xe9", "a"), (), "OURS file"),
    ],
)
def test_usage_and_file_errors_exit_3(
    tmp_path: Path, texts: tuple[bytes | str, ...], args: tuple[str, ...], message: str
) -> None:
    done = run(tmp_path, *texts, args=args)
    assert done.returncode == 3
    assert message in done.stderr.decode()
    assert done.stdout == b""


def test_missing_file_exits_3(tmp_path: Path) -> None:
    (tmp_path / "b").write_text("x")
    done = subprocess.run(
        [str(LLM_FLOWS), "merge", str(tmp_path / "b"), str(tmp_path / "b"), str(tmp_path / "nope")],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 3
    assert b"cannot read THEIRS file" in done.stderr and b"No such file" in done.stderr


def test_one_file_may_be_stdin(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("The cat sat.")
    (tmp_path / "ours.txt").write_text("The cat sat down.")

    def merge(*paths: str) -> subprocess.CompletedProcess[bytes]:
        command = [str(LLM_FLOWS), "merge", *paths]
        return subprocess.run(
            command, input=b"The dog sat.", cwd=tmp_path, capture_output=True, check=False
        )

    done = merge("base.txt", "ours.txt", "-")
    assert (done.stdout, done.returncode) == (b"The dog sat down.", 0)
    twice = merge("base.txt", "-", "-")
    assert twice.returncode == 3
    assert b"only one of BASE, OURS and THEIRS can be - (stdin)" in twice.stderr
