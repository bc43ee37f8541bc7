#!/usr/bin/env python3
"""Write the two example runs shipped in ``reports/``, so the first ``streamlit run`` compares.

- ``reports/gemma3-4b-f16-fa-seed.txt``: REAL. The ``nsys stats`` output printed in
  the walkthrough the project started from (``../shared/seed/*.md``: llama-server,
  gemma-3-4b-it f16, ``-ngl 81 -t 8 -c 0 -fa``, nsys 2025.1.3), cut out of the
  post's code block byte for byte.
- ``reports/gemma3-4b-f16-nofa-generated.txt``: GENERATED from the seed, a plausible
  flash-attention-off run, so that the comparison shows what changes. It is not a
  measurement. What this script changes, per decoded token and layer (36,040 =
  34 layers x 1,060 tokens in the seed):

  * the ``flash_attn_ext_f16`` and ``flash_attn_stream_k_fixup`` rows are removed;
  * attention runs as two more matrix-vector products (KQ and KQV) in the
    ``mul_mat_vec<__half, __half, (int)1, (int)256>`` row (+72,080 instances,
    16,000 ns each) and one ``soft_max_f32`` launch (36,040 instances, 4,212 ns);
  * ``cudaLaunchKernel`` gains one call per added launch minus the removed ones,
    at the seed's average cost; ``cudaStreamSynchronize`` waits for the extra
    GPU time;
  * the memory operations are unchanged.

  Averages are recomputed as total / count and Time (%) over the new totals, as
  nsys does; medians scale with the average; min, max and stddev are kept.

The seed is read with llamaprof's own ``nsys stats`` text reader, the edits are made on its
DataFrames, and the tables are printed back with ``render_column``, so the generated file is
laid out exactly as llamaprof prints ``nsys stats`` (and as nsys does).

Run: ``.venv/bin/python scripts/make_example_reports.py`` (reads ``../shared/seed``).
"""

from __future__ import annotations

import argparse
import re
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from llamaprof import reports
from llamaprof.model import Run
from llamaprof.render.nsys_format import render_column, title_line
from llamaprof.rounding import round1
from llamaprof.sources.stats_text import parse_stats_text

ROOT = Path(__file__).resolve().parents[1]
SEED_MD = ROOT.parent / "shared" / "seed" / "nsys-llamacpp-profiling-walkthrough.md"
SEED_OUT = "gemma3-4b-f16-fa-seed.txt"
GENERATED_OUT = "gemma3-4b-f16-nofa-generated.txt"

FA_PREFIXES = ("void flash_attn_ext_f16<", "void flash_attn_stream_k_fixup<")
MUL_MAT_VEC = "void mul_mat_vec<__half, __half, (int)1, (int)256>"
SOFT_MAX = (
    "void soft_max_f32<(bool)1, (int)0, (int)0>(const float *, const float *, float *, "
    "int, int, float, float, float, float, unsigned int, float)"
)
ADDED_MMV = (72_080, 16_000)  # instances, ns each
ADDED_SOFT_MAX = (36_040, 4_212)
# The soft_max row's median and spread (ns): plausible values, the seed has no such row.
SOFT_MAX_SPREAD = {"med_ns": 4_192.0, "min_ns": 3_968, "max_ns": 24_031, "stddev_ns": 1_112.6}


def extract_seed(markdown: str) -> str:
    """The ``nsys stats`` output block of the walkthrough, exactly as printed there."""
    match = re.search(r"```\n( \*\* CUDA API Summary.*?)```", markdown, re.S)
    if match is None:
        raise SystemExit("the walkthrough has no `nsys stats` output block")
    # The post leaves blank lines before its closing fence; nsys ends with one newline.
    return match.group(1).rstrip("\n") + "\n"


def _dec(value: object) -> Decimal:
    """A frame cell as the exact decimal it was printed as (floats via their shortest repr)."""
    if isinstance(value, float | np.floating):
        return Decimal(repr(float(value)))
    return Decimal(int(value))  # type: ignore[call-overload]


def _set_stats(frame: pd.DataFrame, row: int, total: Decimal, count: Decimal) -> None:
    """New total and count of ``row``; the average follows, the median scales with it."""
    old_avg = _dec(frame.at[row, "avg_ns"])
    avg = total / count  # exact to Decimal's 28 digits, rounded once below as nsys's SQL
    frame.at[row, "total_ns"] = int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    frame.at[row, "count"] = int(count)
    frame.at[row, "avg_ns"] = round1(avg)
    frame.at[row, "med_ns"] = round1(_dec(frame.at[row, "med_ns"]) * avg / old_avg)


def _recompute_pct(frame: pd.DataFrame) -> pd.DataFrame:
    """Time (%) over the new totals, rows by total time (ties keep their order)."""
    totals = [_dec(t) for t in frame["total_ns"]]
    whole = sum(totals, Decimal(0))
    frame["time_pct"] = [round1(t * 100 / whole) for t in totals]
    order = np.argsort(-frame["total_ns"].to_numpy(), kind="stable")
    return frame.iloc[order].reset_index(drop=True)


def _without_flash_attention(kern: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """The kernel summary with attention as matrix-vector products and a soft_max.

    Returns the new frame, the ns and the launches it adds (net of the removed rows).
    """
    removed = kern["name"].str.startswith(FA_PREFIXES)
    removed_ns = int(kern.loc[removed, "total_ns"].sum())
    removed_launches = int(kern.loc[removed, "count"].sum())
    kern = kern[~removed].reset_index(drop=True)
    n, each = ADDED_MMV
    mmv = int(np.flatnonzero(kern["name"].str.startswith(MUL_MAT_VEC))[0])
    total = _dec(kern.at[mmv, "total_ns"]) + n * each
    _set_stats(kern, mmv, total, _dec(kern.at[mmv, "count"]) + n)
    n_sm, each_sm = ADDED_SOFT_MAX
    soft_max = {
        "time_pct": 0.0,
        "total_ns": n_sm * each_sm,
        "count": n_sm,
        "avg_ns": round1(Decimal(each_sm)),
        **SOFT_MAX_SPREAD,
        "name": SOFT_MAX,
        "demangled_name": SOFT_MAX,
    }
    kern = pd.concat([kern, pd.DataFrame([soft_max])], ignore_index=True)
    kern = kern.astype(
        {"total_ns": "int64", "count": "int64", "min_ns": "int64", "max_ns": "int64"}
    )
    added_ns = n * each + n_sm * each_sm - removed_ns
    added_launches = n + n_sm - removed_launches
    return _recompute_pct(kern), added_ns, added_launches


def _more_launches(api: pd.DataFrame, added_ns: int, added_launches: int) -> pd.DataFrame:
    """One cudaLaunchKernel call per added launch; synchronisation waits for the GPU."""
    api = api.copy()
    for row, name in enumerate(api["name"]):
        if name == "cudaLaunchKernel":
            calls = _dec(api.at[row, "count"]) + added_launches
            total = (calls * _dec(api.at[row, "avg_ns"])).to_integral_value()
            _set_stats(api, row, total, calls)
        elif name == "cudaStreamSynchronize":
            total = _dec(api.at[row, "total_ns"]) + added_ns
            _set_stats(api, row, total, _dec(api.at[row, "count"]))
    return _recompute_pct(api)


def render_in_place(text: str, run: Run) -> str:
    """``text`` with every table of a summary ``run`` holds printed again from ``run``.

    A table is its title line, a blank line, header, dashes and rows up to the next blank
    line; the lines between tables (``Processing [...]``) are kept as they are.
    """
    titles = {title_line(report): report for report in run.summaries}
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        report = titles.get(lines[i])
        if report is None:
            out.append(lines[i])
            i += 1
            continue
        end = i + 4  # title, blank, header, dashes
        while end < len(lines) and lines[end].strip():
            end += 1
        out.extend(render_column(run, report).rstrip("\n").split("\n"))
        i = end
    return "\n".join(out)


def make_generated(seed: str) -> str:
    """The flash-attention-off counterpart of the seed output (see the module docstring)."""
    run = parse_stats_text(seed, SEED_OUT)
    kern, added_ns, added_launches = _without_flash_attention(run.summaries[reports.KERNELS])
    run.summaries[reports.KERNELS] = kern
    run.summaries[reports.API] = _more_launches(
        run.summaries[reports.API], added_ns, added_launches
    )
    text = render_in_place(seed, run)
    return text.replace("dev1-gemma-4b.sqlite", "gemma3-4b-f16-nofa-generated.sqlite")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=Path, default=SEED_MD, help="the walkthrough markdown")
    parser.add_argument("--out", type=Path, default=ROOT / "reports", help="output folder")
    args = parser.parse_args(argv)
    seed = extract_seed(args.seed.read_text(encoding="utf-8"))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / SEED_OUT).write_text(seed, encoding="utf-8")
    (args.out / GENERATED_OUT).write_text(make_generated(seed), encoding="utf-8")
    print(f"wrote {args.out / SEED_OUT} and {args.out / GENERATED_OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
