"""A whole comparison as ``llamaprof compare`` prints it and the app shows it.

Builds on ``compare_runs`` with the llama.cpp knowledge: kernels by family, totals per
generated token or request, repeats compared as groups. Kept streamlit-free and
click-free so the CLI and the app are thin over the same tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from llamaprof.analyze.compare import compare_runs, view_frames
from llamaprof.analyze.fairness import (
    Normalize,
    load_records,
    normalization_caption,
    normalize_frames,
    repeat_diff,
    repeat_groups,
    repeat_long,
    require_divisors,
    unit_for,
)
from llamaprof.analyze.findings import Finding
from llamaprof.analyze.llama_kernels import family_frame
from llamaprof.model import Run


def within_spread(delta: float, spread: float) -> bool:
    """True when a change is noise: repeats spread (``spread`` > 0) at least as far as it.

    ``delta`` and ``spread`` in one unit (e.g. ns); the spread is the larger standard
    deviation of the two groups compared. Without a spread (single runs) nothing is noise.

    >>> within_spread(-3.0, 5.0), within_spread(6.0, 5.0), within_spread(0.0, 0.0)
    (True, False, False)
    """
    return bool(spread > 0 and abs(delta) <= spread)


def comparison_frames(
    runs: Mapping[str, Run],
    view,
    *,
    by: str = "name",
    normalize: Normalize = Normalize.NONE,
    records: Mapping[str, Mapping | None] | None = None,
) -> dict[str, pd.DataFrame]:
    """Each run's frame of ``view`` as ``build_comparison`` compares it: label -> frame.

    ``view_frames``' frames (the summary's columns; kernels merged by name), summed by
    family with ``by="family"``, ``view.value`` divided by the run's generated tokens or
    requests under ``normalize`` (NotNormalizable when a record lacks the count).
    """
    frames = view_frames(runs, view.name)
    if by == "family":
        frames = {label: family_frame(frame) for label, frame in frames.items()}
    records = records if records is not None else load_records(runs)
    factors = require_divisors({label: records.get(label) for label in runs}, normalize)
    return normalize_frames(frames, factors, columns=(view.value,))


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
    records = records if records is not None else load_records(runs)
    factors = require_divisors({label: records.get(label) for label in runs}, normalize)
    frames = comparison_frames(runs, view, by=by, normalize=normalize, records=records)
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
        if within_spread(total - base, max(std, base_std)):
            continue
        if base:
            pct = (total - base) * 100.0 / base
            if pct > limit_pct:
                lines.append(f"{label}: total {pct:+.1f}% against {comparison.baseline} {limit}")
        elif total > 0:
            lines.append(f"{label}: total {total:g} against 0 in {comparison.baseline} {limit}")
    return lines


#: What a finding's detail gets when its change is within the spread of the repeats.
NOISE_REMARK = " (within the spread of the repeats: noise)"


def mark_noise(finding: Finding, comparison: Comparison) -> Finding:
    """``finding`` with ``NOISE_REMARK`` when its change is within the repeats' spread.

    A finding about one kernel (or family) reads the repeat frame's ``noise`` flag of its
    row; one about a run's total compares the totals against the larger standard deviation
    of the two groups (``within_spread``). Other findings come back unchanged.
    """
    numbers = finding.numbers
    group = str(numbers.get("run", ""))
    long = comparison.long
    if "name" in numbers:  # one kernel (family): the repeat frame's own noise flag
        rows = long[(long["name"] == numbers["name"]) & (long["run"] == group)]
        noise = bool(len(rows) and rows["noise"].iloc[0])
    elif group in comparison.totals:
        total, std = comparison.totals[group]
        base, base_std = comparison.totals[comparison.baseline]
        noise = within_spread(total - base, max(std, base_std))
    else:
        noise = False
    if not noise:
        return finding
    return Finding(finding.title, finding.detail.rstrip(".") + NOISE_REMARK + ".", finding.numbers)
