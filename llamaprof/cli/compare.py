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

import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click
import pandas as pd

from llamaprof import reports
from llamaprof.analyze.compare import VIEWS, compare_runs, top_n_with_other, view_frames
from llamaprof.analyze.fairness import (
    Normalize,
    comparability_warnings,
    diff_labels,
    load_records,
    normalization_caption,
    normalize_frames,
    repeat_diff,
    repeat_groups,
    repeat_long,
    require_divisors,
    unit_for,
)
from llamaprof.analyze.kernel_names import OTHER, short_names
from llamaprof.analyze.llama_kernels import (
    annotate_ggml_types,
    decode_ggml_types,
    family_frame,
    kernel_family,
)
from llamaprof.errors import LlamaprofError, ReportParseError
from llamaprof.model import Run
from llamaprof.sources import load_report
from llamaprof.units import format_bytes, format_ns

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


def _load(path: Path) -> Run:
    """``load_report``, with any reader failure turned into a one-line library error."""
    try:
        return load_report(path)
    except LlamaprofError:
        raise
    except Exception as exc:  # a reader bug must still read as one line, not a traceback
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReportParseError(path, f"could not be read ({detail})") from exc


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


@dataclass
class Comparison:
    """What the command prints: the diff frame and what it needs to be read right.

    ``long``: ``compare_runs``' frame (or ``repeat_long``'s, whose ``run`` is a repeat group,
    ``value`` a mean, with ``std``/``n``/``spread``/``noise`` columns); ``labels``: runs (or
    groups), baseline first; ``totals``: label -> (mean total, standard deviation of the
    totals; 0 for a single run).
    """

    long: pd.DataFrame
    unit: str
    caption: str
    baseline: str
    labels: list[str]
    totals: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def repeats(self) -> bool:
        """True when runs were grouped as repeats."""
        return "noise" in self.long.columns


def build_comparison(
    runs: Mapping[str, Run],
    baseline: str,
    view,
    *,
    by: str = "name",
    normalize: Normalize = Normalize.NONE,
    records: Mapping[str, Mapping | None] | None = None,
    repeats: bool = True,
) -> Comparison:
    """The comparison the command prints.

    ``view``: a ``llamaprof.analyze.compare.View``; ``by``: "name" or "family" (kernels
    only); ``normalize``: divide each run's totals by its record's generated tokens or
    requests (NotNormalizable when a run has none). With ``repeats`` and records that
    group two or more runs as repeats of one config, groups are compared by their means
    (``repeat_diff``); otherwise runs one by one (``compare_runs``).
    """
    frames = view_frames(runs, view.name)
    if by == "family":
        frames = {label: family_frame(frame) for label, frame in frames.items()}
    records = records if records is not None else load_records(runs)
    factors = require_divisors({label: records.get(label) for label in runs}, normalize)
    frames = normalize_frames(frames, factors, columns=(view.value,))
    key = "name" if by == "family" else view.key
    unit = unit_for(view.report, normalize)
    caption = normalization_caption(normalize, factors)
    per_run = {
        label: float(frame[view.value].sum()) if len(frame) else 0.0
        for label, frame in frames.items()
    }
    groups = repeat_groups({label: records.get(label) for label in runs})
    if repeats and any(len(members) > 1 for members in groups.values()):
        base_group = next(g for g, members in groups.items() if baseline in members)
        order = [base_group, *(g for g in groups if g != base_group)]
        diff = repeat_diff(frames, groups, base_group, key=key, value=view.value)
        long = repeat_long(diff, base_group, order)
        sizes = "; ".join(f"{g}: {len(groups[g])} run{'s' * (len(groups[g]) > 1)}" for g in order)
        caption += (
            f" Repeats grouped ({sizes}): means ± standard deviation; a change within "
            "the spread reads (noise)."
        )
        totals = {}
        for group in order:
            values = pd.Series([per_run[m] for m in groups[group]], dtype="float64")
            totals[group] = (
                float(values.mean()),
                float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            )
        return Comparison(long, unit, caption, base_group, order, totals)
    long = compare_runs(frames, baseline, key=key, value=view.value)
    order = [baseline, *(label for label in runs if label != baseline)]
    return Comparison(
        long, unit, caption, baseline, order, {label: (per_run[label], 0.0) for label in order}
    )


def run_totals(long: pd.DataFrame) -> dict[str, float]:
    """Each run's total: the sum of its values in a comparison frame."""
    return {str(run): float(part["value"].sum()) for run, part in long.groupby("run", sort=False)}


def regressions(comparison: Comparison, limit_pct: float) -> list[str]:
    """One line per run (group) whose total exceeds the baseline's by more than ``limit_pct``.

    For repeat groups the means are compared, and a rise no larger than the spread (the
    larger standard deviation of the two groups' totals) is noise, not a regression.
    """
    base, base_std = comparison.totals[comparison.baseline]
    lines = []
    limit = f"(limit +{limit_pct:g}%)"
    for label, (total, std) in comparison.totals.items():
        if label == comparison.baseline:
            continue
        spread = max(std, base_std)
        if abs(total - base) <= spread and spread > 0:
            continue
        if base:
            pct = (total - base) * 100.0 / base
            if pct > limit_pct:
                lines.append(f"{label}: total {pct:+.1f}% against {comparison.baseline} {limit}")
        elif total > 0:
            lines.append(f"{label}: total {total:g} against 0 in {comparison.baseline} {limit}")
    return lines


def _number(value) -> float | int | None:
    """A JSON number from a pandas/numpy scalar: ints stay ints, NaN becomes null."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _flag(value) -> bool:
    """A noise mark: True only for a true value (the summed "other" row has none)."""
    return bool(pd.notna(value) and value)


def to_json(long: pd.DataFrame, report: str, unit: str, baseline: str, labels: list[str]) -> str:
    """The ``--format json`` document (see the module docstring)."""
    rows = []
    for name, part in long.groupby("name", sort=False):
        by_run = part.set_index("run")
        rows.append(
            {
                "name": name,
                "values": {lb: _number(by_run.at[lb, "value"]) for lb in labels},
                "delta": {lb: _number(by_run.at[lb, "delta"]) for lb in labels},
                "delta_pct": {lb: _number(by_run.at[lb, "delta_pct"]) for lb in labels},
                # "absent": neither this run nor the baseline has the key; both are 0.
                "status": {
                    lb: (
                        "same"
                        if by_run.at[lb, "status"] == "absent"
                        else str(by_run.at[lb, "status"])
                    )
                    for lb in labels
                },
            }
        )
        if "noise" in part.columns:  # repeat groups: each group's spread and the noise mark
            rows[-1]["std"] = {lb: _number(by_run.at[lb, "std"]) for lb in labels}
            rows[-1]["noise"] = {lb: _flag(by_run.at[lb, "noise"]) for lb in labels}
    document = {"report": report, "unit": unit, "baseline": baseline, "runs": labels, "rows": rows}
    return json.dumps(document, indent=2, ensure_ascii=False, default=_number)


def to_csv(long: pd.DataFrame) -> str:
    """The ``--format csv`` table: ``compare_runs``' columns that carry numbers and status."""
    columns = ["name", "run", "value", "baseline_value", "delta", "delta_pct", "status"]
    columns += [c for c in ("n", "std", "spread", "noise") if c in long.columns]
    table = long[columns].copy()
    table["status"] = table["status"].replace("absent", "same")  # as in json: both are 0
    return table.to_csv(index=False, lineterminator="\n")


def _formatter(unit: str):
    base = format_bytes if unit.startswith("bytes") else format_ns
    suffix = unit[unit.index("/") :] if "/" in unit else ""
    return lambda value: f"{base(value)}{suffix}"


def _pct_cell(pct: float, status: str) -> str:
    if status == "new":
        return "new"
    if status == "missing":
        return "missing"
    if status == "absent" or pd.isna(pct):
        return ""
    return "0.0%" if pct == 0 else f"{pct:+.1f}%"


def _value_cell(fmt, value: float, stds: pd.Series | None, label: str) -> str:
    """A value, with `` ± std`` for a repeat group whose runs differ."""
    text = fmt(value)
    if stds is not None and not pd.isna(stds[label]) and stds[label] > 0:
        text += f" ± {fmt(stds[label])}"
    return text


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _display_names(names: list[str]) -> dict[str, str]:
    """Short, unique kernel names with their decoded ggml types: ``mul_mat_q [Q4_K]``."""
    annotated = {name: annotate_ggml_types(name) for name in names if name != OTHER}
    short = short_names(annotated.values())
    out = {}
    for name, text in annotated.items():
        types = list(dict.fromkeys(decode_ggml_types(name)))
        display = short[text]
        if types and not all(t in display for t in types):
            display += f" [{'/'.join(types)}]"
        out[name] = display
    return out


def to_markdown(
    long: pd.DataFrame,
    *,
    title: str,
    unit: str,
    baseline: str,
    labels: list[str],
    by: str,
    caption: str,
    warnings: Sequence[str] = (),
    kernels: bool = False,
    totals: Mapping[str, tuple[float, float]] | None = None,
) -> str:
    """The ``--format md`` table, ready to paste into a pull request.

    A bold title line, the normalisation caption, each warning as a ``> ⚠`` quote, then a
    table: Name (and Family for kernels by name), each run's value (baseline first marked),
    Δ and Δ% of each other run, and a Total row. Values in human units (``1.23 ms``,
    ``4.19 MB``, ``12.3 us/token``). For repeat groups (``std`` and ``noise`` columns) a
    value reads ``mean ± std`` and a change within the spread gets `` (noise)``; ``totals``
    (label -> (total, std)) gives the Total row, else it sums the values.
    """
    fmt = _formatter(unit)
    others = [label for label in labels if label != baseline]
    lines = [f"**{title}**, by {by}; baseline `{baseline}`", "", caption, ""]
    if warnings:
        lines += [f"> ⚠ {warning}" for warning in warnings] + [""]
    show_family = kernels and by == "name"
    header = ["Name", *(["Family"] if show_family else [])]
    header += [f"{label} (baseline)" if label == baseline else label for label in labels]
    for label in others:
        header += [f"Δ {label}", f"Δ% {label}"]
    align = ["---", *(["---"] if show_family else []), *["---:"] * (len(header) - 1 - show_family)]
    names = list(dict.fromkeys(long["name"]))
    short = _display_names(names) if kernels and by == "name" else {}
    rows = []
    for name in names:
        part = long[long["name"] == name].set_index("run")
        display = short.get(name, name)
        cells = [f"`{display}`" if short and name != OTHER else display]
        if show_family:
            cells.append("" if name == OTHER else kernel_family(name))
        stds = part["std"] if "std" in part.columns else None
        cells += [_value_cell(fmt, part.at[lb, "value"], stds, lb) for lb in labels]
        for label in others:
            delta = part.at[label, "delta"]
            pct = _pct_cell(part.at[label, "delta_pct"], part.at[label, "status"])
            if "noise" in part.columns and _flag(part.at[label, "noise"]):
                pct += " (noise)"
            cells += [("+" if delta > 0 else "") + fmt(delta), pct]
        rows.append(cells)
    if totals is None:
        totals = {label: (value, 0.0) for label, value in run_totals(long).items()}
    base_total, base_std = totals[baseline]
    total_row = ["**Total**", *([""] if show_family else [])]
    total_row += [
        fmt(totals[lb][0]) + (f" ± {fmt(totals[lb][1])}" if totals[lb][1] else "") for lb in labels
    ]
    for label in others:
        delta = totals[label][0] - base_total
        pct = delta * 100.0 / base_total if base_total else math.nan
        text = "" if math.isnan(pct) else ("0.0%" if pct == 0 else f"{pct:+.1f}%")
        spread = max(totals[label][1], base_std)
        if text and spread and abs(delta) <= spread:
            text += " (noise)"
        total_row += [("+" if delta > 0 else "") + fmt(delta), text]
    rows.append(total_row)
    lines.append("| " + " | ".join(_cell(h) for h in header) + " |")
    lines.append("|" + "|".join(align) + "|")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


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
    loaded = {label: _load(path) for label, path in zip(labels, paths, strict=True)}
    base_label = labels[index]
    lacking = [label for label, run in loaded.items() if run.summary(view.report) is None]
    if len(lacking) == len(loaded):
        raise LlamaprofError(f"none of the runs has the {view.report} report")
    records = load_records(loaded)
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
        title = f"{reports.TITLES[view.report]} ({view.report})"
        click.echo(
            to_markdown(
                shown,
                title=title,
                unit=result.unit,
                baseline=result.baseline,
                labels=result.labels,
                by=by,
                caption=result.caption,
                warnings=warnings,
                kernels=view.report == reports.KERNELS,
                totals=result.totals,
            ),
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
