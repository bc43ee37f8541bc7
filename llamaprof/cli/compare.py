"""``llamaprof compare``: diff one CUDA summary, or throughput, across runs, for people and CI.

Contract (see ``llamaprof compare --help``):

- RUN RUN [RUN...]: report files (any format ``llamaprof stats`` reads) or capture records
  (``NAME.llamaprof.json``, e.g. from ``capture --no-profile``; a record's export beside it
  is read too). Labels: by the server args and environment that differ between the capture
  records (``-fa on`` vs ``-fa off``) when every run has one, else by file name (colliding
  names get their folder in front, then `` #2``); ``--labels file|config`` forces either.
- Repeats (``--repeats``, the default): runs recorded as repeats of one config form one
  column, compared by mean ± standard deviation; md marks a change no larger than the
  spread ``(noise)``, json adds ``std`` and ``noise``, csv ``n, std, spread, noise``.
  ``--no-repeats`` compares run by run (a repeat reads ``-fa on #2``).
- ``--baseline RUN``: the column the others are compared with, by path or label; a path
  not among the RUNs is read and added first. Default: the first RUN.
- ``--report NAME``: ``cuda_gpu_kern_sum``, ``cuda_api_sum``, ``cuda_gpu_mem_time_sum``,
  ``cuda_gpu_mem_size_sum`` (or pre-2023 names, or ``kernels``, ``api``, ``memops_time``,
  ``memops_size``) or ``throughput`` (from the capture records: tokens/s and latency; each
  row carries its ``unit`` and ``better`` direction). Default: kernels, or throughput when no
  run holds CUDA kernel data (only records, or captures on a machine without a GPU).
- ``--window``: ``auto`` (default: ``workload`` when every run has a capture record with
  request times beside an export, else the whole capture), ``all``, ``load``,
  ``workload``, ``prefill``, ``decode``, ``request:N`` or ``A:B`` (see ``llamaprof stats``).
- ``--by name|family`` (kernels only), ``--normalize none|per-token|per-request`` (of the
  window; needs a capture record with the count beside every run, else exit 1).
- ``--format md|csv|json``, ``--top N`` (the N rows of highest impact, the rest summed into
  one ``(k more)`` row; 0: all).
- ``--fail-above PCT``: exit 3 when a column's total (its mean total for repeats; per token
  with ``--normalize``) exceeds the baseline's by more than PCT percent, a rise within the
  spread of repeats being noise; for throughput, when a metric moves the wrong way (tokens/s
  down, latency up) by more than PCT percent.
- Exit status: 0 done, 1 a file cannot be read, normalised or windowed, or no run holds the
  report (one line on stderr), 2 usage error, 3 regression above ``--fail-above``. Warnings
  go to stderr for csv and json.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from llamaprof import reports
from llamaprof.analyze.compare import VIEWS
from llamaprof.analyze.comparison import (
    THROUGHPUT,
    Comparison,
    ViewComparison,
    auto_window,
    file_labels,
    prepare_comparison,
    regressions,
    require_data,
)
from llamaprof.analyze.normalize import Normalize
from llamaprof.analyze.windows import parse_window
from llamaprof.cli.output import write_out
from llamaprof.errors import OptionError, WindowError
from llamaprof.loading import LoadedRun, load_entry
from llamaprof.render.comparison import to_csv, to_json, to_markdown

FORMATS = ("md", "csv", "json")
#: Why compare picks (or must keep to) the throughput report.
_NO_CUDA = "no run holds CUDA data (capture records alone, or captures without a GPU)"
#: Exit status when a run regresses by more than ``--fail-above``.
EXIT_REGRESSION = 3

_VIEW_BY_REPORT = {view.report: view.name for view in VIEWS.values()}


def _view_for(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None or value in VIEWS or value == THROUGHPUT:
        return value
    try:
        return _VIEW_BY_REPORT[reports.canonical_report_name(value)]
    except ValueError as exc:
        raise click.BadParameter(
            f"{exc}, a view ({', '.join(VIEWS)}), or {THROUGHPUT}", ctx, param
        ) from None


def _window_spec(ctx: click.Context, param: click.Parameter, value: str):
    if value == "auto":
        return value
    try:
        return parse_window(value)
    except WindowError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def _entries(runs: tuple[Path, ...], baseline: str | None) -> tuple[list[LoadedRun], str | None]:
    """The runs loaded; a --baseline path that is not among them is loaded first."""
    seen: dict[str, int] = {}
    entries = []
    for path in runs:
        seen[str(path)] = seen.get(str(path), 0) + 1
        n = seen[str(path)]
        entries.append(load_entry(path, key=str(path) if n == 1 else f"{path} #{n}"))
    if baseline is None:
        return entries, None
    keys = {e.key for e in entries}
    if baseline in keys:
        return entries, baseline
    wanted = Path(baseline)
    for entry in entries:
        if wanted.exists() and entry.path.exists() and entry.path.samefile(wanted):
            return entries, entry.key
    if wanted.is_file():
        return [load_entry(wanted), *entries], str(wanted)
    return entries, baseline  # a label: prepare_comparison resolves it


def _default_view(entries: list[LoadedRun]) -> str:
    """Kernels, unless no run holds kernel data and some run has a capture record."""
    if any(e.run is not None and e.run.summary(reports.KERNELS) is not None for e in entries):
        return "kernels"
    if any(e.record is not None for e in entries):
        return THROUGHPUT
    return "kernels"


def _check_options(
    view: str | None, by: str, normalize: str, window: object, top: int = 0
) -> None:
    """Usage errors (exit 2) for options that do not apply to ``view`` (None: not chosen yet,
    ``_default_view`` picks it once the runs are read)."""
    if view == THROUGHPUT:
        if top:
            raise click.UsageError("--top applies to CUDA reports; throughput shows every metric")
        if by == "family":
            raise click.UsageError("--by family applies to the kernel report, not to throughput")
        if normalize != "none":
            raise click.UsageError("--normalize applies to CUDA reports, not to throughput")
        if window != "auto":
            raise click.UsageError("--window applies to CUDA reports, not to throughput")
    elif by == "family" and view not in (None, "kernels"):
        raise click.UsageError("--by family needs the kernel report (cuda_gpu_kern_sum)")


@click.command("compare")
@click.argument(
    "runs", nargs=-1, required=True, metavar="RUN RUN [RUN...]", type=click.Path(path_type=Path)
)
@click.option(
    "--baseline",
    metavar="RUN",
    help="Column to compare against (path or label); default: the first RUN.",
)
@click.option(
    "--report",
    "view",
    default=None,
    metavar="NAME",
    callback=_view_for,
    help="What to compare: cuda_gpu_kern_sum, cuda_api_sum, cuda_gpu_mem_time_sum, "
    "cuda_gpu_mem_size_sum (or old names, or kernels/api/memops_time/memops_size), or "
    "throughput (tokens/s and latency from the capture records). Default: kernels, or "
    "throughput when no run holds CUDA kernel data.",
)
@click.option(
    "--window",
    "window",
    default="auto",
    show_default=True,
    metavar="WINDOW",
    callback=_window_spec,
    help="Part of each capture to compare: auto (workload when every run has a capture "
    "record with request times, else all), all, load, workload, prefill, decode, request:N, "
    "A:B (1.5s, 250ms, 120us or ns; either side may be empty), or workload+A:B (counted "
    "from each run's workload start, so one window fits runs whose workloads began at "
    "different times). An event belongs to a window when it starts in it.",
)
@click.option(
    "--by",
    type=click.Choice(["name", "family"]),
    default="name",
    show_default=True,
    help="Rows by name, or by llama.cpp kernel family (kernel report only).",
)
@click.option(
    "--normalize",
    type=click.Choice([m.value for m in Normalize]),
    default="none",
    show_default=True,
    help="Divide totals by the window's generated tokens or requests "
    "(needs the capture record beside each report).",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="md", show_default=True)
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Keep the N rows of highest impact, the rest summed into one row (0: all).",
)
@click.option(
    "--fail-above",
    type=float,
    metavar="PCT",
    default=None,
    help="Exit with status 3 when a run's total exceeds the baseline's by more than PCT "
    "percent (throughput: a metric moving the wrong way by more than PCT percent).",
)
@click.option(
    "--labels",
    "label_mode",
    type=click.Choice(["auto", "file", "config"]),
    default="auto",
    show_default=True,
    help="Label runs by what differs between their capture records ('-fa on' vs "
    "'-fa off'), or by file name; auto: by config when every run has a record.",
)
@click.option(
    "--repeats/--no-repeats",
    default=True,
    show_default=True,
    help="Compare runs recorded as repeats of one config as one column: mean, spread, noise.",
)
def compare(
    runs: tuple[Path, ...],
    baseline: str | None,
    view: str | None,
    window,
    by: str,
    normalize: str,
    fmt: str,
    top: int,
    fail_above: float | None,
    label_mode: str,
    repeats: bool,
) -> None:
    """Compare one CUDA summary (or throughput) of several runs against a baseline."""
    if len(runs) + (baseline is not None and baseline not in map(str, runs)) < 2:
        raise click.UsageError("compare needs at least two runs (RUN RUN, or RUN --baseline RUN)")
    _check_options(view, by, normalize, window, top)  # before reading: usage errors first
    entries, base_key = _entries(runs, baseline)
    if len(entries) < 2:
        raise click.UsageError("compare needs at least two runs (RUN RUN, or RUN --baseline RUN)")
    labels = file_labels(entries)
    for entry in entries:  # such a run compares without its record
        if entry.record_problem:
            click.echo(
                f"llamaprof: warning: capture record ignored: {labels[entry.key]}: "
                f"{entry.record_problem}",
                err=True,
            )
    if view is None:
        view = _default_view(entries)
        try:
            _check_options(view, by, normalize, window, top)
        except click.UsageError as exc:  # the user did not ask for throughput: say why it is
            message = f"{_NO_CUDA}, so compare shows throughput: {exc.message}"
            raise click.UsageError(message) from None
        if view == THROUGHPUT:
            click.echo(f"llamaprof: note: {_NO_CUDA}: comparing throughput", err=True)
    spec = None
    if view != THROUGHPUT:
        spec = parse_window(auto_window(entries)) if window == "auto" else window
    try:
        comparison = prepare_comparison(
            entries,
            baseline=base_key,
            labels=label_mode,  # type: ignore[arg-type]
            repeats=repeats,
            window=spec,
            normalize=Normalize(normalize),
        )
    except OptionError as exc:
        raise click.BadParameter(str(exc), param_hint="'--baseline'") from None
    result = comparison.view(view, by)
    require_data(result, comparison)
    warnings = [w.message for w in comparison.warnings]
    if result.report is not None:
        warnings += [
            f"{label} has no {result.report} report: every row counts as missing."
            for label in result.lacking
        ]
    if fmt == "json":
        write_out(to_json(result, top, window=_window_json(comparison, result)) + "\n")
    elif fmt == "csv":
        write_out(to_csv(result, top))
    else:
        caption = comparison.caption if result.report is not None else ""  # its own
        write_out(to_markdown(result, top, caption=caption, warnings=warnings))
    if fmt != "md":
        for warning in warnings:
            click.echo(f"llamaprof: warning: {warning}", err=True)
    if fail_above is not None:
        failed = regressions(result, fail_above)
        for line in failed:
            click.echo(f"llamaprof: regression: {line}", err=True)
        if failed:
            sys.exit(EXIT_REGRESSION)


def _window_json(comparison: Comparison, view: ViewComparison) -> dict | None:
    """``{"name", "start_ns", "end_ns", "runs": {label: {"start_ns", "end_ns"}}}`` for the
    window the numbers cover (start/end null where the runs' windows differ or are open);
    null for the whole capture and for throughput."""
    if view.report is None:
        return None
    windows = {label: m.window for label, m in comparison.members.items() if m.window}
    if not windows:
        return None
    per_run = {
        label: {"start_ns": w.start_ns, "end_ns": w.end_ns} for label, w in windows.items()
    }
    starts = {v["start_ns"] for v in per_run.values()}
    ends = {v["end_ns"] for v in per_run.values()}
    return {
        "name": comparison.window_name,
        "start_ns": starts.pop() if len(starts) == 1 else None,
        "end_ns": ends.pop() if len(ends) == 1 else None,
        "runs": per_run,
    }
