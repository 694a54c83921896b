"""The ``llm-flows`` command.

Each subcommand lives in its own module of this package and is imported only
when it runs, so ``llm-flows correct`` does not pay for the daemon's imports
(and the reverse). Add a subcommand by adding a module that defines a Click
command and naming it in ``SUBCOMMANDS``.
"""

from __future__ import annotations

import importlib

import click

from .. import __version__

#: subcommand name -> (module in this package, attribute, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "correct": ("correct", "correct", "Correct files, folders or stdin (diff, in place or check)."),
    "run": ("flows", "run", "Run a flow on a file or stdin and print the proposal."),
    "flows": ("flows", "flows", "List and inspect flows."),
    "models": ("models", "models", "List models and their options."),
    "prompt": ("models", "prompt", "Send a prompt to a model and stream the answer."),
    "logs": ("logs", "logs", "Turn the response log on or off, list or locate it."),
    "merge": ("merge", "merge", "Three-way merge BASE OURS THEIRS word by word."),
    "serve": ("serve", "serve", "Run the JSON-RPC daemon editors talk to."),
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when it is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = SUBCOMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr, _ = entry
        module = importlib.import_module(f"{__name__}.{module_name}")
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUBCOMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="llm-flows")
def main() -> None:
    """Run LLM flows (corrections, rewrites) on text and merge the results back.

    The offline spelling model `spell` is the default, so every command works
    with no network and no model weights. Configure other models in
    $XDG_CONFIG_HOME/llm-flows/config.toml (or the file named by
    LLM_FLOWS_CONFIG); see `llm-flows models list`.
    """
