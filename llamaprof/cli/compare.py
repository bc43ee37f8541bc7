"""``llamaprof compare``: diff one CUDA summary across runs, for people and for CI.

Contract (see ``llamaprof compare --help``):

- RUN RUN [RUN...]: report files (any format ``llamaprof stats`` reads). Each run's label
  is its file name without extensions; labels that collide get their folder in front.
  ``--labels config`` labels runs instead by the server args and environment that differ
  between their capture records (``-fa on`` vs ``-fa off``).
- ``--baseline RUN``: the run the others are compared with, by path or label; a path not
  among the RUNs is read and added first. Default: the first RUN. At least two runs in all.
- ``--report NAME``: ``cuda_gpu_kern_sum`` (default), ``cuda_api_sum``,
  ``cuda_gpu_mem_time_sum``, ``cuda_gpu_mem_size_sum``, pre-2023 names, or the view names
  ``kernels``, ``api``, ``memops_time``, ``memops_size``.
- ``--by name|family``: rows by kernel (API call, memory operation) or, for the kernel
  report only, by llama.cpp kernel family (``llamaprof.analyze.llama_kernels``).
- ``--normalize none|per-token|per-request``: divide every run's totals by its generated
  tokens (requests), read from the capture record beside the report. A run without one is
  an error (exit 1) rather than a silent mix of totals and per-token values.
- ``--format md|csv|json``: ``md`` a Markdown table for a pull request (human units, a
  Total row, comparability warnings as a quote above it); ``csv`` the long table of
  ``compare_runs`` (name, run, value, baseline_value, delta, delta_pct, status; raw units);
  ``json`` ``{"report", "unit", "baseline", "runs", "rows": [{"name", "values", "delta",
  "delta_pct", "status"}]}`` (raw units; a key neither the run nor the baseline has reads
  "same", both being 0).
- Repeats (``--repeats``, the default): when capture records group two or more runs as
  repeats of one config (``repeat.group``), the groups are compared instead of the runs:
  labels are group names, values are means; md shows ``mean ± std`` and marks a change no
  larger than the spread (the larger standard deviation of the two groups) ``(noise)``;
  json rows add ``std`` and ``noise`` per group; csv adds ``n, std, spread, noise``.
  ``--no-repeats`` compares run by run.
- ``--top N``: keep the N rows that changed most, the rest summed as ``other`` (0: all).
- ``--fail-above PCT``: the chosen total is the sum of the report's values of a run
  (per token with ``--normalize per-token``; a group's mean total with repeats); exit
  status 3 when any run's total exceeds the baseline's by more than PCT percent, with one
  line on stderr per such run. With repeats a rise within the spread is noise, not a
  regression.
- Exit status: 0 done, 1 a file cannot be read or normalised (one line on stderr), 2 usage
  error, 3 regression above ``--fail-above``. Warnings go to stderr for csv and json.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from llamaprof import reports
from llamaprof.analyze.compare import VIEWS, top_n_with_other
from llamaprof.analyze.comparison import build_comparison, regressions
from llamaprof.analyze.fairness import (
    Normalize,
    comparability_warnings,
    diff_labels,
    safe_records,
)
from llamaprof.errors import LlamaprofError
from llamaprof.loading import load_run
from llamaprof.model import Run
from llamaprof.render.comparison import comparison_section, to_csv, to_json

FORMATS = ("md", "csv", "json")
#: Exit status when a run regresses by more than ``--fail-above``.
EXIT_REGRESSION = 3

_VIEW_BY_REPORT = {view.report: view for view in VIEWS.values()}


def _view_for(ctx: click.Context, param: click.Parameter, value: str):
    if value in VIEWS:
        return VIEWS[value]
    try:
        return _VIEW_BY_REPORT[reports.canonical_report_name(value)]
    except ValueError as exc:
        raise click.BadParameter(f"{exc}, or a view: {', '.join(VIEWS)}", ctx, param) from None


def label_runs(paths: Sequence[Path]) -> list[str]:
    """Labels for ``paths``: file name without extensions; collisions get their folder.

    >>> label_runs([Path("a/r.sqlite"), Path("b/r.sqlite"), Path("c/s.txt")])
    ['a/r', 'b/r', 's']
    """
    plain = [Run(path=p, format=None).label for p in paths]  # type: ignore[arg-type]
    labels = []
    for path, label in zip(paths, plain, strict=True):
        labels.append(f"{path.parent.name}/{label}" if plain.count(label) > 1 else label)
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[i] = f"{label} #{seen[label]}"
    return labels


def _resolve_baseline(paths: list[Path], labels: list[str], baseline: str | None) -> int:
    """Index of the baseline among ``paths``; a path not among them is added first (-1)."""
    if baseline is None:
        return 0
    if baseline in labels:
        return labels.index(baseline)
    wanted = Path(baseline)
    for i, path in enumerate(paths):
        if path == wanted or (wanted.exists() and path.exists() and path.samefile(wanted)):
            return i
    if wanted.exists():
        return -1
    raise click.BadParameter(
        f"{baseline!r} is neither one of the runs ({', '.join(labels)}) nor a file",
        param_hint="'--baseline'",
    )


@click.command("compare")
@click.argument(
    "runs", nargs=-1, required=True, metavar="RUN RUN [RUN...]", type=click.Path(path_type=Path)
)
@click.option(
    "--baseline",
    metavar="RUN",
    help="Run to compare against (path or label); default: the first RUN.",
)
@click.option(
    "--report",
    "view",
    default="cuda_gpu_kern_sum",
    show_default=True,
    metavar="NAME",
    callback=_view_for,
    help="Summary to compare: cuda_gpu_kern_sum, cuda_api_sum, cuda_gpu_mem_time_sum, "
    "cuda_gpu_mem_size_sum (or old names, or kernels/api/memops_time/memops_size).",
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
    help="Divide totals by generated tokens or requests "
    "(needs the capture record beside each report).",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="md", show_default=True)
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Keep the N rows that changed most, the rest summed as 'other' (0: all).",
)
@click.option(
    "--fail-above",
    type=float,
    metavar="PCT",
    default=None,
    help="Exit with status 3 when a run's total exceeds the baseline's by more than PCT percent.",
)
@click.option(
    "--labels",
    "label_mode",
    type=click.Choice(["file", "config"]),
    default="file",
    show_default=True,
    help="Label runs by file name, or by the server args and environment that differ "
    "between their capture records ('-fa on' vs '-fa off').",
)
@click.option(
    "--repeats/--no-repeats",
    default=True,
    show_default=True,
    help="Compare runs recorded as repeats of one config as groups: means, spread, noise.",
)
def compare(
    runs: tuple[Path, ...],
    baseline: str | None,
    view,
    by: str,
    normalize: str,
    fmt: str,
    top: int,
    fail_above: float | None,
    label_mode: str,
    repeats: bool,
) -> None:
    """Compare one CUDA summary of several runs against a baseline."""
    paths = list(runs)
    labels = label_runs(paths)
    index = _resolve_baseline(paths, labels, baseline)
    if index == -1:
        paths.insert(0, Path(baseline))  # type: ignore[arg-type]
        labels = label_runs(paths)
        index = 0
    if len(paths) < 2:
        raise click.UsageError("compare needs at least two runs (RUN RUN, or RUN --baseline RUN)")
    if by == "family" and view.report != reports.KERNELS:
        raise click.UsageError("--by family needs the kernel report (cuda_gpu_kern_sum)")
    loaded = {label: load_run(path) for label, path in zip(labels, paths, strict=True)}
    base_label = labels[index]
    lacking = [label for label, run in loaded.items() if run.summary(view.report) is None]
    if len(lacking) == len(loaded):
        raise LlamaprofError(f"none of the runs has the {view.report} report")
    records, problems = safe_records(loaded)
    for problem in problems:  # such a run compares without its record
        click.echo(f"llamaprof: warning: capture record ignored: {problem}", err=True)
    if label_mode == "config":
        renamed = diff_labels(records)
        loaded = {renamed[label]: run for label, run in loaded.items()}
        records = {renamed[label]: record for label, record in records.items()}
        lacking = [renamed[label] for label in lacking]
        base_label = renamed[base_label]
    result = build_comparison(
        loaded,
        base_label,
        view,
        by=by,
        normalize=Normalize(normalize),
        records=records,
        repeats=repeats,
    )
    warnings = [w.message for w in comparability_warnings(loaded, records)]
    warnings += [
        f"{label} has no {view.report} report: every row counts as missing." for label in lacking
    ]
    shown = top_n_with_other(result.long, top, by="impact") if top else result.long
    if fmt == "json":
        click.echo(to_json(shown, view.report, result.unit, result.baseline, result.labels))
    elif fmt == "csv":
        click.echo(to_csv(shown), nl=False)
    else:
        click.echo(
            comparison_section(result, view.report, by=by, shown=shown, warnings=warnings),
            nl=False,
        )
    if fmt != "md":
        for warning in warnings:
            click.echo(f"llamaprof: warning: {warning}", err=True)
    if fail_above is not None:
        failed = regressions(result, fail_above)
        for line in failed:
            click.echo(f"llamaprof: regression: {line}", err=True)
        if failed:
            sys.exit(EXIT_REGRESSION)
