"""``llm-flows correct``: correct files, folders or stdin from the shell or CI."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ..batch.report import Mode


@click.command(
    "correct",
    epilog="""\b
Examples:
  llm-flows correct README.md              show the corrections as a diff
  llm-flows correct --in-place docs/       correct every prose file under docs/
  llm-flows correct --check docs/          exit 1 if anything would change (CI)
  llm-flows correct - < draft.md           filter: corrected text on stdout
  :'<,'>!llm-flows correct -               the same, from Vim/Neovim

\b
Exit status: 0 done, 1 --check found corrections, 2 a usage error or a
file that failed, 130 interrupted (Ctrl-C; no file is ever half-written).""",
)
@click.argument("paths", nargs=-1, metavar="[PATH...|-]")
@click.option("--flow", default="correct", show_default=True, help="The flow to run.")
@click.option("-m", "--model", help="Model id or alias (default: the configured default).")
@click.option("-i", "--instruction", help="Instruction for flows that need one (rewrite).")
@click.option("--diff", "diff", is_flag=True, help="Print a unified diff (default for paths).")
@click.option("--in-place", "in_place", is_flag=True, help="Write the corrections to the files.")
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing, name the files that would change (stderr); exit 1 if any would.",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    help="Files corrected at once (default: the model's max_concurrency, also the most it runs).",
)
@click.option(
    "--include",
    multiple=True,
    metavar="GLOB",
    help="Files to take when walking folders (repeatable; default: *.md *.txt *.rst *.org ...).",
)
@click.option("--exclude", multiple=True, metavar="GLOB", help="Files to leave out (repeatable).")
@click.option("--no-cache", is_flag=True, help="Ignore and do not update the result cache.")
def correct(
    *,
    paths: tuple[str, ...],
    flow: str,
    model: str | None,
    instruction: str | None,
    diff: bool,
    in_place: bool,
    check: bool,
    jobs: int | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    no_cache: bool,
) -> None:
    """Correct files, folders, or stdin (`-`) with a flow (default: the offline `correct`).

    Folders are walked for prose files, skipping binary files, hidden files and
    folders and what .gitignore ignores. In Markdown and plain text, code
    blocks, inline code, front matter, HTML, link targets and URLs are never
    sent to the model and never changed. A file edited while it is being
    corrected is merged word by word, never overwritten. reStructuredText and
    Org files are treated as plain text.
    """
    from ..batch.command import correct_paths, correct_stdin
    from ..batch.engine import Request

    if sum((diff, in_place, check)) > 1:
        raise click.UsageError("choose one of --diff, --in-place and --check")
    if not paths:
        raise click.UsageError("name files or folders to correct, or - to read stdin")
    request = Request(flow, model, instruction, use_cache=not no_cache)
    if "-" in paths:
        if len(paths) > 1:
            raise click.UsageError("- (stdin) cannot be mixed with file names")
        if in_place:
            raise click.UsageError("--in-place needs files, not stdin")
        code = correct_stdin(request, mode="diff" if diff else "check" if check else "filter")
    else:
        mode: Mode = "in-place" if in_place else "check" if check else "diff"
        code = correct_paths(paths, request, mode=mode, jobs=jobs, include=include, exclude=exclude)
    raise SystemExit(code)
