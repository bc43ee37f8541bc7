"""``--window`` and ``--nvtx`` for the commands that read a run's events (stats, timeline).

The membership rule, stated once for ``--help`` and the README: an event is in a window when
it **starts** in it (CUDA API calls by their start, GPU work by its GPU start; nothing is
clipped), and inside NVTX ranges of a name when its API call starts inside such a range on its
own thread (GPU work: the call that launched it, same correlationId).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from llamaprof.analyze.windows import WHOLE, WindowSpec, apply_window, parse_window, window_for
from llamaprof.errors import LlamaprofError, WindowError
from llamaprof.events import Window
from llamaprof.model import Run
from llamaprof.record import CaptureRecord, read_record
from llamaprof.units import format_ns

WINDOW_HELP = (
    "Only events starting in WINDOW: all, load, workload, prefill, decode, request:N (phases "
    "from the capture record beside the report, else detected from the GPU work; see "
    "`llamaprof phases`), A:B on the nsys timeline (1.5s, 250ms, 120us or ns; either side "
    "may be empty; cut to the capture), or workload+A:B (counted from the workload's start; "
    "A may be negative). API calls count by their start, GPU work by its GPU start; nothing "
    "is clipped."
)
NVTX_HELP = (
    "Only events inside NVTX ranges named NAME: an API call when it starts inside such a range "
    "on its own thread, GPU work when the API call that launched it (same correlationId) does. "
    "Combines with --window."
)


def _parse(ctx: click.Context, param: click.Parameter, value: str | None) -> WindowSpec | None:
    if value is None:
        return None
    try:
        return parse_window(value)
    except WindowError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def window_option(command):
    """``--window WINDOW``: parsed at the command line (a malformed value is a usage error)."""
    return click.option(
        "--window", "window_spec", metavar="WINDOW", callback=_parse, help=WINDOW_HELP
    )(command)


def format_option(formats: tuple[str, ...], default: str, help: str):
    """``-f/--format`` among ``formats`` (any case), into the parameter ``fmt``."""
    return click.option(
        "--format",
        "-f",
        "fmt",
        type=click.Choice(formats, case_sensitive=False),
        default=default,
        show_default=True,
        help=help,
    )


def nvtx_option(command):
    """``--nvtx NAME``."""
    return click.option("--nvtx", "nvtx_name", metavar="NAME", help=NVTX_HELP)(command)


def record_beside(path: str | Path) -> CaptureRecord | None:
    """The capture record beside ``path``; a record that cannot be read is a warning on
    stderr and counts as none (phases are then detected)."""
    try:
        return read_record(path)
    except LlamaprofError as exc:
        click.echo(f"llamaprof: warning: capture record ignored: {exc}", err=True)
        return None


def select_events(
    run: Run, path: str, spec: WindowSpec | None, nvtx_name: str | None
) -> tuple[Run, Window | None]:
    """``run`` narrowed to ``--window`` and ``--nvtx`` (unchanged without either) and the
    window applied (None without either). A note on stderr says what the window covers.

    Raises WindowError (one line, exit 1) for a report without times, a phase the run
    lacks, or an NVTX name it has no range of.
    """
    if spec is None and nvtx_name is None:
        return run, None
    label = Path(path).name
    if run.events is None:
        raise WindowError(
            f"{label} is `nsys stats` output, which has no event times: --window and --nvtx "
            "need the SQLite export or the .nsys-rep"
        )
    record = record_beside(path) if spec is not None and spec.needs_phases else None
    window = WHOLE if spec is None else window_for(run, record, spec, label=label)
    mask = None
    if nvtx_name is not None:
        from llamaprof.sources.nvtx import export_of, nvtx_masks

        export = export_of(run)
        if export is None:
            raise WindowError(
                f"{label}: its SQLite export is gone, and NVTX ranges are read from it; "
                "read the report again"
            )
        mask = nvtx_masks(export, nvtx_name, run.events, label=label)
        window = replace(window, nvtx=nvtx_name)
    click.echo(f"llamaprof: note: {label}: {describe(window)}", err=True)
    return apply_window(run, window, mask=mask, label=label), window


def describe(window: Window) -> str:
    """``window decode: 2 intervals from 1.10 µs to 2.40 µs, 750 ns in all``, for stderr."""
    bounds = [(low, high) for low, high in window.intervals]
    if bounds == [(None, None)]:
        text = f"window {window.name}: the whole capture"
    else:
        low = "the start" if window.start_ns is None else format_ns(window.start_ns)
        high = "the end" if window.end_ns is None else format_ns(window.end_ns)
        count = len(bounds)
        pieces = f"{count} intervals from" if count > 1 else "from"
        text = f"window {window.name}: {pieces} {low} to {high}"
        if count > 1 and window.length_ns is not None:
            text += f", {format_ns(window.length_ns)} in all"
    if window.nvtx is not None:
        text += f"; inside NVTX ranges {window.nvtx!r}"
    return text
