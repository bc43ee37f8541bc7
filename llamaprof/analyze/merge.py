"""Merge kernel-summary rows split by launch configuration into one row per kernel name.

nsys 2022.4 grouped its kernel summary by (name, grid, block); every other version
groups by name alone. ``kernels_by_name`` turns the former into the latter so runs
from different nsys versions compare row for row.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd

from llamaprof import reports
from llamaprof.rounding import round1

__all__ = ["kernels_by_name"]


def _exact(value: object) -> Decimal:
    # repr() of a float is the shortest text that reads back the same float: the
    # value as it was printed when it came from nsys text.
    if isinstance(value, int | np.integer):
        return Decimal(int(value))
    return Decimal(repr(float(value)))  # type: ignore[arg-type]


def _same_or_na(values: pd.Series) -> object:
    unique = values.dropna().unique()
    return unique[0] if len(unique) == 1 and values.notna().all() else None


def kernels_by_name(df: pd.DataFrame) -> pd.DataFrame:
    """One row per kernel ``name`` from a kernel summary (``reports.COLUMNS[KERNELS]``).

    Rows of the same name (nsys 2022.4: one per grid/block) are merged:
    ``total_ns`` and ``count`` are summed exactly; ``min_ns``/``max_ns`` are the
    min/max; ``avg_ns`` = total / count rounded to 1 decimal as nsys rounds;
    ``med_ns`` and ``stddev_ns`` become NaN (they cannot be derived from the
    parts); ``time_pct`` = the merged total over the summary's total, in percent
    rounded to 1 decimal (what nsys prints for a by-name summary of the same
    kernels); ``grid``/``block`` become NA on every row; the other name columns
    keep their value where the merged rows agree, else NA. A name printed once
    keeps its row's statistics. Rows are ordered by ``total_ns`` descending, then
    name. A summary whose names are already unique is returned unchanged (a copy).
    """
    if df.empty or not df["name"].duplicated().any():
        return df.copy()
    grand_total = sum((_exact(v) for v in df["total_ns"]), Decimal(0))
    rows = []
    for name, group in df.groupby("name", sort=False, dropna=False):
        if len(group) == 1:
            row = group.iloc[0].to_dict()
        else:
            total = sum((_exact(v) for v in group["total_ns"]), Decimal(0))
            count = int(group["count"].sum())
            row = {
                "time_pct": round1(total * 100 / grand_total)
                if grand_total
                else round1(sum((_exact(v) for v in group["time_pct"]), Decimal(0))),
                "total_ns": int(total) if total == total.to_integral_value() else float(total),
                "count": count,
                "avg_ns": round1(total / count) if count else math.nan,
                "med_ns": math.nan,
                "min_ns": group["min_ns"].min(),
                "max_ns": group["max_ns"].max(),
                "stddev_ns": math.nan,
                "name": name,
            }
            for column in ("demangled_name", "base_name", "mangled_name"):
                row[column] = _same_or_na(group[column])
        row["grid"] = None
        row["block"] = None
        rows.append(row)
    merged = pd.DataFrame(rows, columns=reports.COLUMNS[reports.KERNELS])
    for column, dtype in df.dtypes.items():
        if column in ("grid", "block"):
            merged[column] = pd.Series([None] * len(merged), dtype=dtype)
        elif dtype.kind in "iu" and merged[column].notna().all():
            merged[column] = merged[column].astype(dtype)
        elif dtype.kind == "f":
            merged[column] = merged[column].astype("float64")
        else:
            merged[column] = merged[column].astype(dtype)
    merged = merged.sort_values(
        ["total_ns", "name"], ascending=[False, True], kind="mergesort"
    ).reset_index(drop=True)
    return merged
