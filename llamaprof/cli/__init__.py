"""The ``llamaprof`` command: thin over the library, errors become one line on stderr."""

from __future__ import annotations

import sys

import click

from llamaprof import __version__
from llamaprof.errors import LlamaprofError


class _Group(click.Group):
    """Turns library errors into ``llamaprof: <reason>`` and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except LlamaprofError as exc:
            click.echo(f"llamaprof: {exc}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="llamaprof")
def main() -> None:
    """Read, compare and capture Nsight Systems profiles of llama-server."""


def _register() -> None:
    # Each subcommand lives in its own module; a missing one must not break the others.
    from importlib import import_module

    for module, name in (
        ("llamaprof.cli.stats", "stats"),
        ("llamaprof.cli.compare", "compare"),
        ("llamaprof.cli.capture", "capture"),
    ):
        try:
            command = getattr(import_module(module), name)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        main.add_command(command, name)


_register()
