"""``llamaprof timeline``: a run's activity per time bin, as CSV or JSON.

Contract (see ``llamaprof timeline --help``):

- REPORT is an SQLite export or .nsys-rep (``nsys stats`` text/CSV have no times: one line,
  exit status 1).
- ``--bin`` (default 10ms; ``1.5s``, ``250ms``, ``120us``, ns) sets the bin; ``--window``
  (as ``stats --window``) the range binned: from the window's first start to its last end,
  bins aligned on its start; everything in that range is binned, also between the intervals
  of a window made of several (``decode``). Default: the whole capture.
- Columns: ``llamaprof.analyze.timeline.timeline``. ``--format csv`` (default): one row per
  bin; ``json``: ``{"bin_ns", "window", "bins": [{column: value}, ...]}``.
- Exit status 0 printed, 1 unreadable or refused, 2 usage error (a bad bin or window).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from llamaprof.analyze.timeline import timeline
from llamaprof.analyze.windows import WindowSpec, parse_duration
from llamaprof.cli.output import write_out
from llamaprof.cli.selection import describe, format_option, record_beside, window_option
from llamaprof.errors import NoData, WindowError
from llamaprof.loading import load_run

__all__ = ["timeline_command"]

FORMATS = ("csv", "json")


def _bin(ctx: click.Context, param: click.Parameter, value: str) -> int:
    try:
        ns = parse_duration(value)
    except WindowError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    if ns <= 0:
        raise click.BadParameter("the bin must be longer than 0", ctx=ctx, param=param)
    return ns


@click.command("timeline")
@click.argument("path", metavar="REPORT")
@click.option(
    "--bin",
    "bin_ns",
    default="10ms",
    show_default=True,
    callback=_bin,
    metavar="TIME",
    help="Bin length: 1.5s, 250ms, 120us or ns.",
)
@window_option
@format_option(FORMATS, "csv", 'csv: one row per bin; json: {"bin_ns", "window", "bins": [...]}.')
def timeline_command(path: str, bin_ns: int, window_spec: WindowSpec | None, fmt: str) -> None:
    """Print REPORT's activity per time bin: GPU busy % (all streams and devices, overlaps
    counted once), GPU time by llama.cpp kernel family and of memory operations (each split
    across the bins it spans), CPU time in CUDA synchronisation calls, kernels started.

    Times are ns on the nsys timeline (`llamaprof phases` prints the phases on it).
    With --window the bins cover that window (from its first start to its last end).
    """
    label = Path(path).name
    run = load_run(path)
    if run.events is None:
        raise WindowError(
            f"{label} is `nsys stats` output, which has no event times: a timeline needs the "
            "SQLite export or the .nsys-rep"
        )
    if not run.events.has_cuda:
        raise NoData(
            f"{label} holds no CUDA events (a capture on a machine without a GPU?): nothing "
            "to put on a timeline"
        )
    window = None
    start = end = None
    if window_spec is not None:
        from llamaprof.analyze.windows import window_for

        record = record_beside(path) if window_spec.needs_phases else None
        window = window_for(run, record, window_spec, label=label)
        start, end = window.start_ns, window.end_ns
        click.echo(f"llamaprof: note: {label}: {describe(window)}", err=True)
    try:
        frame = timeline(run.events, bin_ns=bin_ns, start_ns=start, end_ns=end)
    except ValueError as exc:
        raise WindowError(f"{label}: {exc}") from None
    if fmt == "json":
        data = {
            "bin_ns": bin_ns,
            "window": None if window is None else window.to_dict(),
            "bins": frame.to_dict(orient="records"),
        }
        write_out(json.dumps(data, indent=1) + "\n")
    else:
        write_out(frame.to_csv(index=False, lineterminator="\n"))
