"""Writing a command's output: one rule for every command.

A reader that went away (``llamaprof stats r.sqlite | head``) is not an error: nothing more
is printed, and the command ends with the status it would have had (``compare --fail-above``
still exits 3 on a regression). Output that cannot be written (a full disk, ``> /dev/full``)
is one line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import os
import sys

import click

__all__ = ["write_out"]


def write_out(text: str) -> None:
    """Write ``text`` to stdout as it is (no newline added) and flush it."""
    if sys.stdout is None:  # started with stdout closed (``>&-``)
        click.echo("llamaprof: cannot write the output: standard output is closed", err=True)
        sys.exit(1)
    try:
        click.echo(text, nl=False)
        sys.stdout.flush()
    except OSError as exc:
        # Later output, and Python's flush at exit, go to /dev/null instead of failing again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        if not isinstance(exc, BrokenPipeError):  # a reader that went away is no error
            click.echo(f"llamaprof: cannot write the output: {exc.strerror or exc}", err=True)
            sys.exit(1)
