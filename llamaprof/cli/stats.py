"""``llamaprof stats``: print a report's CUDA summaries exactly as ``nsys stats`` does.

Contract (see ``llamaprof stats --help``):

- PATH is any file llamaprof reads (SQLite export, .nsys-rep, what ``nsys stats``
  printed in any of its formats: column, table, csv, tsv, json, hdoc, htable); its
  format is detected from its content. The same run prints alike from any of them.
- ``--report NAME`` (repeatable, or comma-separated) picks reports by current or
  pre-2023 name (``cuda_gpu_kern_sum`` or ``gpukernsum``); default: all four in
  nsys's order. A name given twice is printed once. An unknown name is a usage
  error (exit 2).
- ``--format column`` (default): each table as nsys prints it, title line
  included, tables separated by one blank line. ``--format csv``: with one
  report, exactly the CSV and nothing else; with several, each CSV is preceded
  by its `` ** Title (name):`` line and a blank line, as nsys's console output,
  and separated from the next by a blank line. ``--format json``: one object
  keyed by report name (reports the file lacks are left out).
- ``--base`` / ``--mangled``: group kernels by base or mangled name (nsys's
  ``cuda_gpu_kern_sum:base``); exclusive (usage error). Where the file holds no
  such names, demangled names are printed and a note says so on stderr.
- ``--timeunit ns|us|ms|s``: time columns in that unit, 4 decimals (not ns).
- A report the file does not contain: ``SKIPPED: <PATH> <reason>`` on stderr, as
  nsys words it. Exit status 0 when at least one report was printed, 1 when none
  of the requested reports is in the file (stdout then stays empty, or ``{}``
  for json).
- A file that cannot be read: one line ``llamaprof: <file>: <reason>`` on stderr,
  exit status 1, no traceback.
- ``--window WINDOW`` / ``--nvtx NAME`` (SQLite exports and .nsys-rep): the summaries of
  the events starting in the window / inside NVTX ranges of that name, exactly as nsys
  prints those events; a note on stderr says what the window covers, and JSON output
  names it first (``"window": {"name", "start_ns", "end_ns"}``). ``nsys stats`` text and
  CSV have no event times: one line, exit status 1. A malformed window is a usage error.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from llamaprof import reports
from llamaprof.analyze.windows import WindowSpec
from llamaprof.cli.output import write_out
from llamaprof.cli.selection import format_option, nvtx_option, select_events, window_option
from llamaprof.loading import load_run
from llamaprof.model import KernelNaming
from llamaprof.render.nsys_format import (
    TIME_UNITS,
    render_column,
    render_csv,
    render_json,
    title_line,
)

FORMATS = ("column", "csv", "json")


def _report_names(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> list[str]:
    names: list[str] = []
    for value in values:
        for part in value.split(","):
            if not part.strip():
                continue
            try:
                name = reports.canonical_report_name(part)
            except ValueError as exc:
                raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
            if name not in names:
                names.append(name)
    return names or list(reports.REPORT_NAMES)


@click.command("stats")
@click.argument("path", metavar="PATH")
@click.option(
    "--report",
    "-r",
    "report_names",
    multiple=True,
    callback=_report_names,
    metavar="NAME",
    help="Report to print (repeatable or comma-separated): cuda_api_sum, cuda_gpu_kern_sum, "
    "cuda_gpu_mem_time_sum, cuda_gpu_mem_size_sum, or their pre-2023 names "
    "(cudaapisum, gpukernsum, gpumemtimesum, gpumemsizesum). Default: all four.",
)
@format_option(
    FORMATS, "column", "column: the tables nsys prints; csv: nsys's --format csv; json: one object."
)
@click.option("--base", is_flag=True, help="Group kernels by base name (nsys :base).")
@click.option("--mangled", is_flag=True, help="Group kernels by mangled name (nsys :mangled).")
@click.option(
    "--timeunit",
    type=click.Choice(tuple(TIME_UNITS), case_sensitive=False),
    default="ns",
    show_default=True,
    help="Unit of the time columns; other than ns, values have 4 decimals.",
)
@window_option
@nvtx_option
def stats(
    path: str,
    report_names: list[str],
    fmt: str,
    base: bool,
    mangled: bool,
    timeunit: str,
    window_spec: WindowSpec | None,
    nvtx_name: str | None,
) -> None:
    """Print the CUDA summaries of PATH exactly as `nsys stats` prints them.

    PATH is an SQLite export, an .nsys-rep, or what `nsys stats` printed (any
    --format: column, table, csv, tsv, json, hdoc, htable). A report PATH does not
    contain is named on stderr (SKIPPED: ...).
    Exit status: 0 when a report was printed, 1 when none of the requested reports
    is in PATH or PATH cannot be read, 2 for a usage error.

    --window and --nvtx print the summaries of the events in the window / inside the
    NVTX ranges exactly as nsys would print those events. An event is in a window when it
    starts in it (API calls by their start, GPU work by its GPU start; an event starting
    before the window but running into it is not in it); see `llamaprof phases` for the
    phases a run has.
    """
    if base and mangled:
        raise click.UsageError("--base and --mangled cannot be used together.")
    naming = (
        KernelNaming.BASE if base else KernelNaming.MANGLED if mangled else KernelNaming.DEMANGLED
    )
    timeunit = timeunit.lower()
    run = load_run(path)
    run, window = select_events(run, path, window_spec, nvtx_name)

    # Data the reader had to leave out makes the numbers incomplete: say so, on stderr only.
    for warning in run.info.warnings:
        click.echo(f"llamaprof: warning: {path}: {warning}", err=True)
    present: list[str] = []
    for name in report_names:
        if run.summary(name) is None:
            reason = run.skipped.get(name) or reports.SKIP_REASONS[name]
            click.echo(f"SKIPPED: {path} {reason}", err=True)
        else:
            present.append(name)
    if (
        naming is not KernelNaming.DEMANGLED
        and reports.KERNELS in present
        and naming not in run.kernel_variants
    ):
        click.echo(
            f"llamaprof: note: {path} holds no {naming.value} kernel names; "
            "printing demangled names",
            err=True,
        )

    if fmt == "json":
        text = render_json(run, present, window=window, naming=naming, timeunit=timeunit)
    elif fmt == "csv" and len(present) == 1:
        text = render_csv(run, present[0], naming=naming, timeunit=timeunit)
    elif fmt == "csv":
        text = "\n".join(
            f"{title_line(name)}\n\n{render_csv(run, name, naming=naming, timeunit=timeunit)}"
            for name in present
        )
    else:
        text = "\n".join(
            render_column(run, name, naming=naming, timeunit=timeunit) for name in present
        )
    write_out(text)
    if not present:
        sys.exit(1)
