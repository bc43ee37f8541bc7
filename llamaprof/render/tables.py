"""Tables for people: the app's summary, diff, family and configuration tables as text.

Pure reshaping of ``llamaprof.analyze``'s frames (exact ``*_ns``/``*_bytes`` values) into
what a person reads (``1.23 ms``, ``4.19 MB``, short kernel names first, the full name
last). Kept streamlit-free so the app only displays them and tests check them directly.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from llamaprof import reports
from llamaprof.analyze.kernel_names import short_names
from llamaprof.analyze.llama_kernels import family_summary
from llamaprof.units import format_bytes, format_ns

__all__ = ["column_widths", "config_table", "family_summary_table", "summary_table"]


def summary_table(frame: pd.DataFrame, report: str) -> pd.DataFrame:
    """One run's summary ``frame`` of ``report`` as text for people.

    Columns: the key (``Kernel`` short name for kernels, ``Name`` for the CUDA API,
    ``Operation`` for memory operations), ``Time (%)`` where the summary has ``time_pct``,
    ``Total``, ``Count`` (thousands separated), ``Avg``/``Med``/``Min``/``Max``/``StdDev``
    where present; times as ``1.23 ms``, sizes (the size summary) as ``4.19 MB``; kernels
    end with ``Full name``.
    """
    out = pd.DataFrame()
    if "time_pct" in frame:
        out["Time (%)"] = frame["time_pct"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}")
    fmt = format_bytes if report == reports.MEM_SIZE else format_ns
    unit = "bytes" if report == reports.MEM_SIZE else "ns"
    out["Total"] = frame[f"total_{unit}"].map(fmt)
    out["Count"] = frame["count"].map(lambda v: "" if pd.isna(v) else f"{int(v):,}")
    for stat in ("avg", "med", "min", "max", "stddev"):
        column = f"{stat}_{unit}"
        if column in frame:
            out[stat.capitalize() if stat != "stddev" else "StdDev"] = frame[column].map(fmt)
    if report == reports.KERNELS:
        shorts = short_names(list(frame["name"]))
        out.insert(0, "Kernel", [shorts.get(n, n) for n in frame["name"]])
        out["Full name"] = frame["name"].to_numpy()
    elif report == reports.API:
        out.insert(0, "Name", frame["name"].to_numpy())
    else:
        out.insert(0, "Operation", frame["operation"].to_numpy())
    return out


def family_summary_table(kernels: pd.DataFrame) -> pd.DataFrame:
    """One run's ``family_summary`` for people.

    Columns: ``Family``, ``Time`` (``1.23 ms``), ``Share (%)`` (one decimal), ``Launches``
    (thousands separated), ``Kernels`` (distinct kernels), ``What`` (the family's description).
    """
    summary = family_summary(kernels)
    return pd.DataFrame(
        {
            "Family": summary["family"],
            "Time": [format_ns(v) for v in summary["total_ns"]],
            "Share (%)": [f"{v:.1f}" for v in summary["time_pct"]],
            "Launches": [f"{int(v):,}" for v in summary["count"]],
            "Kernels": summary["n_kernels"],
            "What": summary["description"],
        }
    )


def config_table(diff: pd.DataFrame, *, only_differences: bool = False) -> pd.DataFrame:
    """``config_diff``'s frame as the app shows it: ``differs`` first, a fresh 0.. index.

    ``diff``: one row per setting, a boolean ``differs`` column and one column per run.
    ``only_differences`` keeps only the settings that differ between the runs.
    """
    table = diff[diff["differs"]] if only_differences else diff
    table = table[["differs", *(c for c in table.columns if c != "differs")]]
    return table.reset_index(drop=True)


def column_widths(
    frame: pd.DataFrame,
    *,
    headers: Mapping[str, str] | None = None,
    name: str = "Name",
    budget: int = 800,
    char_px: float = 7.0,
    padding: int = 20,
    smallest: int = 56,
    widest: int = 260,
    name_smallest: int = 150,
) -> dict[str, int]:
    """Pixel widths for a table of text cells, so that it fits ``budget`` px where it can.

    Every column but ``name`` gets the width of its longest text, its cells' or its header's
    (``headers``: column -> the header shown; default the column's name): ``char_px`` per
    character plus ``padding``, at least ``smallest`` and at most ``widest``. ``name`` takes
    what is left of ``budget``, between ``name_smallest`` and ``widest``. The table needs no
    sideways scrolling when its other columns fit. ``budget``: the page's table width (800
    px: the main column of a 1280 px window with the sidebar open is 818 px in Chromium).

    >>> t = pd.DataFrame({"Name": ["cudaLaunchKernel"], "a": ["1.78 s"], "Δ% a": ["+3.4%"]})
    >>> column_widths(t, headers={"a": "run a", "Δ% a": "Δ% run a"})
    {'Name': 260, 'a': 62, 'Δ% a': 76}
    """
    headers = headers or {}
    widths: dict[str, int] = {}
    for column in frame.columns:
        if column == name:
            continue
        texts = [str(headers.get(column, column)), *(str(v) for v in frame[column])]
        longest = max(len(text) for text in texts)
        widths[column] = int(min(widest, max(smallest, round(longest * char_px + padding))))
    left = budget - sum(widths.values())
    if name in frame.columns:
        widths = {name: int(min(widest, max(name_smallest, left))), **widths}
    return widths
