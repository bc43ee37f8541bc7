"""The ``llamaprof`` command: thin over the library, errors become one line on stderr."""

from __future__ import annotations

import sys

import click

from llamaprof import __version__
from llamaprof.errors import LlamaprofError


class _Group(click.Group):
    """Turns library errors into ``llamaprof: <reason>`` and exit status 1, never a traceback;
    a Ctrl-C into exit status 130, as while the command loads (``llamaprof.__main__``)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LlamaprofError as exc:
            click.echo(f"llamaprof: {exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:  # (click would print "Aborted!" and exit 1)
            sys.exit(130)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="llamaprof")
def main() -> None:
    """Read, compare and capture Nsight Systems profiles of llama-server."""


def _register() -> None:
    """Add the subcommands; imported here because each module imports ``main``'s package."""
    from llamaprof.cli.capture import capture
    from llamaprof.cli.compare import compare
    from llamaprof.cli.phases import phases
    from llamaprof.cli.stats import stats
    from llamaprof.cli.timeline import timeline_command

    for command in (stats, compare, capture, phases, timeline_command):
        main.add_command(command)


_register()
