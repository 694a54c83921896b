"""Benchmark the word-level merge against `git merge-file` on the same inputs.

Synthetic prose of 2 KB, 20 KB, 200 KB and 1 MB (some paragraphs repeated
verbatim); the user edits 1% of the words and the model 2%, spread through the
text. For each size: our median time and conflicts, split into those where both
changed overlapping or touching tokens (git's kind) and those on adjacent words
(withheld by design); and git merge-file's time and conflicts on the
token-per-line form (every token on its own line: word level) and on the text as
is (line level), each timed as one process like any external merge.

Run: .venv/bin/python bench/merge.py
"""

from __future__ import annotations

import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from llm_flows.merge import ENGINE, Conflict, merge, tokenize
from llm_flows.merge.diff import diff

SIZES = [("2 KB", 2_000, 41), ("20 KB", 20_000, 21), ("200 KB", 200_000, 7), ("1 MB", 1_000_000, 5)]


def prose(size: int, rng: random.Random) -> str:
    """Sentences from a Zipf-like vocabulary; about every eighth paragraph repeats one verbatim."""
    syllables = ["ka", "lo", "mi", "ten", "ra", "sho", "ve", "dun", "pi", "zor", "el", "qua"]
    vocabulary = ["".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(6000)]
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    paragraphs: list[str] = []
    length = 0
    while length < size:
        if len(paragraphs) > 3 and rng.random() < 0.125:
            paragraph = rng.choice(paragraphs)
        else:
            sentences = []
            for _ in range(rng.randint(2, 6)):
                words = rng.choices(vocabulary, weights, k=rng.randint(6, 20))
                words[0] = words[0].capitalize()
                if rng.random() < 0.3:
                    words[rng.randrange(len(words) - 1)] += ","
                sentences.append(" ".join(words) + rng.choice([".", ".", ".", "?", "!"]))
            paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        length += len(paragraph) + 2
    return "\n\n".join(paragraphs)[:size]


def edit_words(text: str, fraction: float, change: Callable[[str], str], rng: random.Random) -> str:
    spans = [m.span() for m in re.finditer(r"\w+", text)]
    chosen = sorted(rng.sample(range(len(spans)), max(1, round(len(spans) * fraction))))
    parts: list[str] = []
    position = 0
    for i in chosen:
        start, end = spans[i]
        parts += (text[position:start], change(text[start:end]))
        position = end
    parts.append(text[position:])
    return "".join(parts)


def git_merge(git: str, folder: Path, base: str, ours: str, theirs: str) -> tuple[float, int]:
    """Seconds for one `git merge-file -p` process, and the conflicts it reports."""
    for name, content in (("base", base), ("ours", ours), ("theirs", theirs)):
        (folder / name).write_text(content, encoding="utf-8")
    command = [
        git,
        "merge-file",
        "-p",
        str(folder / "ours"),
        str(folder / "base"),
        str(folder / "theirs"),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    return elapsed, done.stdout.count(b"\n<<<<<<< ") + done.stdout.startswith(b"<<<<<<< ")


def per_line(text: str) -> str:
    """Every token on its own line (newlines inside tokens escaped)."""
    return "\n".join(token.replace("\n", "\\n") for token in tokenize(text)) + "\n"


def overlapping(conflict: Conflict) -> bool:
    """Whether the user's and the model's changes overlap or touch: the kind git reports.

    Our other conflicts are changes to neighbouring words with no word between them,
    which the merge withholds by design ("The data is good": the user makes "data"
    "results", the model makes "is" "are"); git's token-level merge applies both.
    """
    mine, model = diff(conflict.base, conflict.ours), diff(conflict.base, conflict.theirs)
    return any(m.a_start <= t.a_end and t.a_start <= m.a_end for m in mine for t in model)


def median_ms(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> int:
    git = shutil.which("git")
    if git is None:
        print(
            "git is not installed; it is the reference this benchmark compares with",
            file=sys.stderr,
        )
        return 1
    rng = random.Random(2024)
    print(f"diff core: {ENGINE}")
    print(
        f"{'':7} {'-' * 12} ours {'-' * 13}   {'-' * 4} git, a token per line {'-' * 3}"
        f"   {'-' * 4} git, lines"
    )
    header = (
        f"{'size':>7} {'ms':>7} {'conflicts':>9} {'overlap':>7} {'adjacent':>8}   "
        f"{'ms':>7} {'conflicts':>9} {'ratio':>6}   {'ms':>7} {'conflicts':>9}   status"
    )
    print(header)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for label, size, repeats in SIZES:
            base = prose(size, rng)
            ours = edit_words(base, 0.01, str.upper, rng)
            theirs = edit_words(base, 0.02, lambda w: w + "s", rng)
            result = merge(base, ours, theirs)
            ours_ms = median_ms(partial(merge, base, ours, theirs), repeats)
            token_form = (per_line(base), per_line(ours), per_line(theirs))
            git_tok = [git_merge(git, folder, *token_form) for _ in range(repeats)]
            git_line = [git_merge(git, folder, base, ours, theirs) for _ in range(repeats)]
            tok_ms = statistics.median(t for t, _ in git_tok) * 1000
            line_ms = statistics.median(t for t, _ in git_line) * 1000
            overlap = sum(map(overlapping, result.conflicts))
            print(
                f"{label:>7} {ours_ms:7.2f} {len(result.conflicts):9d} {overlap:7d} "
                f"{len(result.conflicts) - overlap:8d}   {tok_ms:7.2f} {git_tok[0][1]:9d} "
                f"{ours_ms / tok_ms:6.2f}   {line_ms:7.2f} {git_line[0][1]:9d}   {result.status}"
            )
    print(
        "ms: median wall time (git's includes starting the process, about 1.5 ms)\n"
        "overlap: our conflicts where the user's and the model's changes overlap or touch,\n"
        "  the kind git reports: compare with git's token-level conflicts\n"
        "adjacent: changes to neighbouring words with no word between them, withheld by\n"
        "  design (the user's data->results next to the model's is->are); git applies both\n"
        "ratio: our median / git's token-level median (below 1: we are faster)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
