"""``llamaprof phases``: the phases of a capture, on the nsys timeline.

Contract (see ``llamaprof phases --help``):

- REPORT is an SQLite export or .nsys-rep; the capture record beside it
  (``<name>.llamaprof.json``) gives the phases when it has request times (schema 2):
  ``load``, ``workload``, ``request N``, ``prefill N``, ``decode N`` (``source`` "record").
  Otherwise they are detected from the GPU work: ``load`` (the leading host-to-device copies),
  ``workload``, ``burst N`` (``source`` "detected").
- NVTX ranges follow (``source`` "nvtx"): the top-level ranges (not starting inside another
  range of their thread), the first ``MAX_NVTX_PHASES`` in time; a note says how many more
  there are and how many ranges the export holds.
- ``--format column`` (default; ms for people), ``csv`` (ns) or ``json``
  (``{"phases": [{"name", "start_ns", "end_ns", "source"}], "notes": [...]}``). Notes also
  go to stderr (``llamaprof: note: ...``).
- Exit status 0 when phases were printed; 1 when REPORT cannot be read or has nothing to
  print (``nsys stats`` text/CSV hold no times: one line on stderr); 2 for a usage error.
"""

from __future__ import annotations

from pathlib import Path

import click

from llamaprof.analyze.phases import MAX_NVTX_PHASES, nvtx_phases, phases_frame, phases_of
from llamaprof.cli.output import write_out
from llamaprof.cli.selection import format_option, record_beside
from llamaprof.errors import NoData, WindowError
from llamaprof.loading import load_run
from llamaprof.render.phases import render_phases

FORMATS = ("column", "csv", "json")


@click.command("phases")
@click.argument("path", metavar="REPORT")
@format_option(
    FORMATS, "column", 'column: a table in ms; csv: ns; json: {"phases": [...], "notes": [...]}.'
)
def phases(path: str, fmt: str) -> None:
    """Print the phases of REPORT (an SQLite export or .nsys-rep) on the nsys timeline.

    From the capture record beside REPORT when it has request times: load, workload,
    request N, prefill N, decode N. Without one, detected from the GPU work: load (the
    leading host-to-device copies, the model upload), workload, burst N. Then the
    top-level NVTX ranges, if any (the first 50). For `llamaprof stats --window` and
    `timeline --window`: load, workload, prefill (every prefill), decode (every decode) and
    request:N by name; any other phase by its times (START:END, from the csv output's ns),
    an NVTX range with `--nvtx NAME`.

    Exit status: 0 printed, 1 REPORT cannot be read or has no phases, 2 usage error.
    """
    label = Path(path).name
    run = load_run(path)
    if run.events is None:
        raise WindowError(
            f"{label} is `nsys stats` output, which has no event times: phases need the "
            "SQLite export or the .nsys-rep"
        )
    found = phases_of(run.events, record_beside(path))
    notes: list[str] = []
    from llamaprof.sources.nvtx import export_of, read_nvtx_ranges, top_level_ranges

    export = export_of(run)
    ranges = read_nvtx_ranges(export) if export is not None else None
    if ranges is not None and not ranges.frame.empty:
        top = top_level_ranges(ranges.frame)
        listed, more = nvtx_phases(top, MAX_NVTX_PHASES)
        found += listed
        if more:
            notes.append(
                f"{more:,} more top-level NVTX ranges not listed (the first {len(listed)} "
                f"of {len(top):,}; {len(ranges.frame):,} ranges in all); "
                "`llamaprof stats --nvtx NAME` selects events by range name"
            )
        if ranges.unclosed:
            notes.append(f"{ranges.unclosed:,} NVTX ranges never closed were left out")
    if not found:
        raise NoData(
            f"{label} has no phases: no GPU work, no capture record with request times "
            "and no NVTX ranges"
        )
    for note in notes:
        click.echo(f"llamaprof: note: {label}: {note}", err=True)
    write_out(render_phases(phases_frame(found), fmt, notes))
