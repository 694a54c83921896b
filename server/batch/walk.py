"""Find the files to correct under the paths the user named.

A file named on the command line is always taken (if it is text). A folder is
walked for prose files (``--include``, by default Markdown, text, reST and Org),
skipping hidden files and folders and, inside a git work tree, whatever git
ignores (asked from ``git ls-files``, so nested ``.gitignore`` files, the global
excludes file and ``.git/info/exclude`` all count). ``--exclude`` applies to
everything. Binary files are skipped and reported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from .textfile import looks_binary

DEFAULT_INCLUDE = ("*.md", "*.markdown", "*.mdown", "*.mkd", "*.txt", "*.text", "*.rst", "*.org")


@dataclass
class Found:
    """Files to correct, files passed over (with why), and paths that do not exist."""

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def find_files(
    paths: Sequence[str], include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> Found:
    """The text files under ``paths``, in a stable order, each once."""
    found = Found()
    seen: set[Path] = set()
    patterns = tuple(include) or DEFAULT_INCLUDE
    for given in paths:
        root = Path(given)
        if root.is_dir():
            candidates: Iterable[Path] = (
                path
                for path in _walk(root)
                if _matches(path, root, patterns) and not _matches(path, root, exclude)
            )
        elif root.exists():
            candidates = [] if _matches(root, root.parent, exclude) else [root]
        else:
            found.missing.append(given)
            continue
        for path in candidates:
            key = path.resolve()
            if key in seen:
                continue
            seen.add(key)
            if looks_binary(path):
                found.skipped.append((path, "binary file"))
            else:
                found.files.append(path)
    return found


def _matches(path: Path, root: Path, patterns: Sequence[str]) -> bool:
    """Whether a glob matches the file's name, a folder on its way, or a path in between.

    Below ``root``, ``docs/sub/b.txt`` is tried as ``b.txt``, ``sub``, ``sub/b.txt``,
    ``docs``, ``docs/sub`` ..., so ``--exclude drafts`` and ``--exclude 'sub/*.txt'`` work.
    """
    if not patterns:
        return False
    parts = path.relative_to(root).parts if path.is_relative_to(root) else (path.name,)
    spans = {"/".join(parts[i:j]) for i in range(len(parts)) for j in range(i + 1, len(parts) + 1)}
    return any(fnmatch(span, glob) for glob in patterns for span in spans)


def _walk(root: Path) -> list[Path]:
    """Every visible file below ``root``: git's view in a work tree, else the file system's."""
    listed = _git_files(root)
    if listed is None:
        listed = []
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            listed += [Path(folder, name) for name in sorted(files)]
    return [
        path
        for path in sorted(listed)
        if not any(part.startswith(".") for part in path.relative_to(root).parts) and path.is_file()
    ]


def _git_files(root: Path) -> list[Path] | None:
    """Tracked and untracked-but-not-ignored files below ``root``; None outside a work tree."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        result = subprocess.run(
            [git, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."],
            cwd=root,
            capture_output=True,
            check=False,
        )
    except OSError:
        return None
    if result.returncode != 0:
        return None
    names = sorted(set(result.stdout.decode("utf-8", "surrogateescape").split("\0")))
    return [root / name for name in names if name]
