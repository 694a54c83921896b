"""``llm-flows merge BASE OURS THEIRS``: the word-level merge on three files.

Merged text goes to stdout untouched (bytes as UTF-8, line endings kept), so it
can be redirected over a file; what happened goes to stderr. The exit status
says the outcome, so scripts need not parse anything.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..merge import MergePolicy, MergeResult
from ..merge import merge as merge_texts

EXIT = {"clean": 0, "partial": 1, "dropped": 2}
EXIT_USAGE = 3


class _UsageError(click.UsageError):
    exit_code = EXIT_USAGE


class _FileError(click.ClickException):
    exit_code = EXIT_USAGE


class _Command(click.Command):
    """Usage errors exit with 3, not Click's 2, which here means "dropped"."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _UsageError(exc.format_message(), ctx) from exc


def _read(role: str, path: str) -> str:
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise _FileError(f"cannot read {role} file {path!r}: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _FileError(
            f"{role} file {path!r} is not UTF-8 text "
            f"(byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from exc


def _where(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"{line}:{column}"


def _report(result: MergeResult, ours: str) -> None:
    for c in result.conflicts:
        click.echo(
            f"conflict at {_where(ours, c.start)}: kept yours {c.ours!r}, "
            f"withheld the model's {c.theirs!r} (was {c.base!r})",
            err=True,
        )
    applied = len(result.edits)
    summary = f"{result.status}: {applied} model change{'s' * (applied != 1)} applied"
    if result.conflicts:
        summary += f", {len(result.conflicts)} conflict{'s' * (len(result.conflicts) != 1)}"
    if result.reason:
        summary = f"dropped: {result.reason} Your text is unchanged."
    click.echo(f"{summary} (you changed {result.divergence:.0%} of the text)", err=True)


_fraction = click.FloatRange(0.0, 1.0)


@click.command("merge", cls=_Command)
@click.argument("base", metavar="BASE")
@click.argument("ours", metavar="OURS")
@click.argument("theirs", metavar="THEIRS")
@click.option(
    "--max-divergence",
    type=_fraction,
    default=0.5,
    show_default=True,
    help="Drop the result when you changed more than this fraction of BASE.",
)
@click.option(
    "--max-conflict-ratio",
    type=_fraction,
    default=0.5,
    show_default=True,
    help="Drop it when more than this fraction of (at least two) model changes conflict.",
)
@click.option(
    "--max-rewrite",
    type=_fraction,
    default=None,
    help="Drop it when the model changed more than this fraction of BASE.  [default: off]",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of text.")
def merge(base: str, ours: str, theirs: str, as_json: bool, **policy: Any) -> None:
    """Merge a model's output into text you kept editing, word by word.

    BASE is the text the model was given, OURS the same text as it is now
    (with your edits), THEIRS the model's output; one of them may be `-`,
    read from stdin. Every change of yours stays; each model change that does
    not touch one of yours is applied; one that does is withheld and reported
    as a conflict.

    The merged text goes to stdout, conflicts and the outcome to stderr.
    Exit status: 0 clean (every model change applied), 1 partial (some
    withheld), 2 dropped (nothing applied, stderr says why), 3 usage or
    file error.
    """
    if [base, ours, theirs].count("-") > 1:
        raise _UsageError("only one of BASE, OURS and THEIRS can be - (stdin)")
    texts = {
        role: _read(role, path)
        for role, path in (("BASE", base), ("OURS", ours), ("THEIRS", theirs))
    }
    result = merge_texts(texts["BASE"], texts["OURS"], texts["THEIRS"], MergePolicy(**policy))
    if as_json:
        import json

        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        sys.stdout.buffer.write(result.text.encode("utf-8", "surrogatepass"))
        sys.stdout.flush()
    _report(result, texts["OURS"])
    sys.exit(EXIT[result.status])
