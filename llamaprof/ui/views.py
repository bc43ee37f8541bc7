"""Drawing blocks of the compare and single-run pages: cards, tabs, tables, charts, downloads.

Each block takes the page's ``Comparison`` (or one ``Run``), calls pure functions of
``llamaprof.analyze``, ``llamaprof.render`` or ``llamaprof.charts`` and displays the result;
nothing is computed here. A tab's table is ``render.comparison.table``, its CSV download
``to_csv`` and the page's Markdown download ``comparison_document``: one renderer, so the
screen and the files agree by construction.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import altair as alt
import pandas as pd
import streamlit as st

from llamaprof import reports
from llamaprof.analyze.compare import VIEWS
from llamaprof.analyze.comparison import THROUGHPUT, Comparison, ViewComparison
from llamaprof.analyze.overview import group_overview, kernel_time_by_device, run_gpus
from llamaprof.charts import delta_bars, grouped_bars
from llamaprof.model import Run
from llamaprof.render.comparison import THROUGHPUT_CAPTION, table, to_csv
from llamaprof.render.tables import column_widths
from llamaprof.render.text import (
    change_text,
    gpus_text,
    shorten_names,
    shorten_run_names,
    signed_text,
    unit_formatter,
    value_text,
)
from llamaprof.ui.common import md_escape
from llamaprof.ui.comparing import Prepared, memo
from llamaprof.units import format_bytes, format_ns

__all__ = [
    "COMPARE_TABS",
    "TAB_VIEWS",
    "TIMELINE",
    "Card",
    "TableLayout",
    "ViewParts",
    "card_facts",
    "missing_data",
    "per_suffix",
    "run_cards",
    "share_text",
    "show_table",
    "slug",
    "summary_view",
    "table_height",
    "table_layout",
    "throughput_view",
    "view_parts",
]

#: The id of the Timeline tab.
TIMELINE = "timeline"
#: The compare page's tabs: the id its link carries (``?tab=kernels``) -> the tab's title;
#: each tab's block is in app_pages/compare.py.
COMPARE_TABS: dict[str, str] = {
    "api": "CUDA API",
    "kernels": "Kernels",
    "memory": "Memory operations",
    THROUGHPUT: "Throughput",
    TIMELINE: "Timeline",
}
#: The summaries (views of ``llamaprof.analyze.compare.VIEWS``) each CUDA tab compares.
TAB_VIEWS: dict[str, tuple[str, ...]] = {
    "api": ("api",),
    "kernels": ("kernels",),
    "memory": ("memops_time", "memops_size"),
}
#: Most characters of a run's name in a table header (its middle left out: ``shorten_names``).
HEADER_CHARS = 28
#: px of a comparison table that show without scrolling: the main column of a 1280 px
#: window with the sidebar open (818 px in Chromium).
TABLE_BUDGET = 800
# px the Name, Family, Δ and Δ% columns take at least (for the header length of runs' names)
_NAME_PX, _NAME_MAX_PX, _FAMILY_PX, _DELTA_PX, _PCT_PX = 150, 260, 90, 90, 70
#: st.dataframe's header and row heights (px, Streamlit 1.67), borders included, and the most
#: rows a table shows before it scrolls (a top 50, its "(k more)" and Total rows; a family's
#: drill-down may list more).
_TABLE_HEADER_PX, _TABLE_ROW_PX, _TABLE_MAX_ROWS = 38, 35, 52
#: Width of a character in the grid's cells (its 14 px Source Sans, measured in Chromium;
#: digits are a little wider) and a cell's padding, in px.
_CHAR_PX, _CELL_PAD_PX = 6, 16


def slug(text: str) -> str:
    """A widget-key-safe form of ``text``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def card_keys(prefix: str, columns: list[str]) -> dict[str, str]:
    """Widget keys of one card per column: ``<prefix>_<slug>``, and ``_<n>`` (the column's
    position, from 1) where two columns slug alike (``RunA`` and ``runa``, ``fa-on`` and
    ``fa_on``): Streamlit refuses a page with two elements of one key.

    >>> card_keys("header", ["RunA", "runa", "b"])
    {'RunA': 'header_runa_1', 'runa': 'header_runa_2', 'b': 'header_b'}
    """
    slugs = [slug(c) for c in columns]
    return {
        c: f"{prefix}_{s}" if slugs.count(s) == 1 else f"{prefix}_{s}_{i}"
        for i, (c, s) in enumerate(zip(columns, slugs, strict=True), start=1)
    }


def _swatch(label: str, color: str) -> str:
    return f"<span style='color:{color}'>&#9632;</span> **{md_escape(html.escape(label))}**"


def share_text(value: object) -> str:
    """A 0..1 share as ``8.4%`` (``n/a`` where unknown)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{float(value) * 100:.1f}%"  # type: ignore[arg-type]


def _delta(value: float | None, base: float | None, fmt: Callable[[float], str]) -> str | None:
    if value is None or base is None:
        return None
    diff = value - base
    if diff == 0:
        return None
    pct = f" ({diff * 100 / base:+.1f}%)" if base else ""
    return signed_text(fmt(diff), diff) + pct


# --- run cards ------------------------------------------------------------------------------

_CARD_METRICS = (("GPU kernel time", "kernel_time_ns"), ("CUDA API time", "api_time_ns"))


def _known_facts(facts: dict[str, tuple[float | None, float]], why_none: str) -> str:
    """Bytes per direction, span and busy share, leaving out what the source does not hold
    (``why_none``: what to say when it holds none of them)."""
    parts = []
    for title, key in (("H→D", "bytes_htod"), ("D→H", "bytes_dtoh"), ("D→D", "bytes_dtod")):
        value, std = facts[key]
        if value is not None:
            parts.append(f"{title} {value_text(format_bytes, value, std)}")
    span, span_std = facts["span_ns"]
    if span is not None:
        parts.append(f"span {value_text(format_ns, span, span_std)}")
    busy, _ = facts["gpu_busy_share"]
    if busy is not None:
        parts.append(f"GPU busy {share_text(busy)}")
    return " · ".join(parts) or f"bytes, span and busy share: {why_none}"


def _devices_text(devices: pd.DataFrame, per: str) -> str:
    """``Kernel time per GPU: GPU 0 (A100) 271 ms (50.6%) · GPU 1 264 ms (49.4%)``."""
    parts = []
    for row in devices.itertuples(index=False):
        name = f" ({md_escape(row.gpu)})" if row.gpu else ""
        device = "unknown GPU" if row.device < 0 else f"GPU {row.device}"
        time = value_text(format_ns, row.kernel_time_ns, row.std_ns)
        parts.append(f"{device}{name} {time}{per} ({row.share * 100:.1f}%)")
    return "Kernel time per GPU: " + " · ".join(parts)


@dataclass(frozen=True)
class Card:
    """What one column's card shows (``card_facts``): its numbers (``group_overview``), the
    files it stands for (where labelled by config), its GPUs, its kernel time per GPU
    (several GPUs only), and what its reports' readers left out."""

    facts: dict[str, tuple[float | None, float]]
    files: str | None
    gpus: str | None
    devices: str | None
    warnings: tuple[str, ...]
    why_none: str = "not in this report's format"


def card_facts(comparison: Comparison) -> dict[str, Card]:
    """Each column's ``Card``, by column label."""
    per = per_suffix(comparison)
    cards = {}
    for column in comparison.columns:
        members = [comparison.members[label] for label in comparison.groups[column]]
        runs = [m.run for m in members]
        factors = [m.factor for m in members]
        files = None
        if len(members) > 1 or not column.endswith(members[0].entry.file_label):
            files = ", ".join(m.entry.key for m in members)  # labelled by config: which files
        gpus = run_gpus(members[0].run, members[0].record)
        devices = kernel_time_by_device(runs, factors)
        cards[column] = Card(
            facts=group_overview(runs, factors),
            files=files,
            gpus=md_escape(gpus_text(gpus)) if gpus else None,
            devices=_devices_text(devices, per) if len(devices) > 1 else None,
            warnings=tuple(w for run in runs if run is not None for w in run.info.warnings),
            why_none=_why_no_facts(runs),
        )
    return cards


def _why_no_facts(runs: list[Run | None]) -> str:
    """Why a card may have no bytes, span or busy share: its runs' sources hold none."""
    if all(run is None for run in runs):
        return "capture records only"
    if any(run is not None and run.events is not None and not run.events.has_cuda for run in runs):
        return "no CUDA events in this capture (captured without a GPU?)"
    return "not in this report's format"


def run_cards(prepared: Prepared, colors: dict[str, str]) -> None:
    """One card per column: kernel and API time against the baseline (mean ± spread for
    repeats), bytes, span, GPU busy, the GPUs, and the kernel time per GPU where kernels ran
    on several. Times are normalised as the page's values are (``/token``...)."""
    comparison = prepared.comparison
    cards = memo(prepared, "cards", baseline=False)(lambda: card_facts(comparison))
    per = per_suffix(comparison)
    columns = comparison.columns
    base = cards[comparison.baseline].facts
    per_row = min(len(columns), 4)
    keys = card_keys("header", columns)
    for start in range(0, len(columns), per_row):
        row = st.columns(per_row)
        for container, column in zip(row, columns[start : start + per_row], strict=False):
            card = cards[column]
            with container.container(border=True, key=keys[column]):
                star = " (baseline)" if column == comparison.baseline else ""
                st.markdown(_swatch(column, colors[column]) + star, unsafe_allow_html=True)
                if card.files:
                    st.caption(md_escape(card.files))
                # Side by side while the cards are wide (two a row); else one under the other.
                slots = st.columns(2) if per_row <= 2 else [st.container(), st.container()]
                for slot, (title, key) in zip(slots, _CARD_METRICS, strict=True):
                    value, std = card.facts[key]
                    delta = None
                    if column != comparison.baseline:
                        delta = _delta(value, base[key][0], format_ns)
                    shown = value_text(format_ns, value, std) if value is not None else "n/a"
                    slot.metric(title + per, shown, delta, delta_color="inverse")
                st.caption(_known_facts(card.facts, card.why_none))
                if card.gpus:
                    st.caption(card.gpus)
                if card.devices:
                    st.caption(card.devices)
                for warning in card.warnings:
                    st.warning(f"Incomplete: {md_escape(warning)}", icon=":material/warning:")


def per_suffix(comparison: Comparison) -> str:
    """The unit suffix of normalised values: "", "/token" or "/request"."""
    return {"per-token": "/token", "per-request": "/request"}.get(comparison.normalize.value, "")


# --- comparison tables ---------------------------------------------------------------------


@dataclass(frozen=True)
class TableLayout:
    """A comparison table as the page lays it out: ``frame`` (``render.comparison.table``,
    compact), the ``order`` its columns show in, and each shown column's config."""

    frame: pd.DataFrame
    order: list[str]
    config: dict[str, object]


def table_layout(view: ViewComparison, top: int) -> TableLayout:
    """The view's ``render.comparison.table`` (compact: no Δ column beyond two runs), laid out
    so that two to four runs' values and Δ% fit a 1280 px page.

    Each run's Δ% (and Δ, for two runs) sits right of its value, so their headers read just
    ``Δ%`` (the whole ``Δ% <run>`` on hover); run headers are ``shorten_run_names`` of the
    runs (without the start they share, then the end that tells them apart). The Family
    column is left out beyond two runs, where it would push values off the page (the
    by-family view shows families). More runs scroll sideways.
    """
    frame = table(view, top, compact=True)
    columns = view.columns
    shown = ["Name", *(["Family"] if "Family" in frame and len(columns) <= 2 else [])]
    headers: dict[str, str] = {}
    longest = max((len(str(name)) for name in frame["Name"]), default=0)
    # The names get the width they need before the budget is shared, up to _NAME_MAX_PX;
    # names wider than their column then lose their middle here, not their end to the cell's
    # edge: the end tells kernels (and runs) apart.
    need = max(_NAME_PX, min(_NAME_MAX_PX, longest * _CHAR_PX + _CELL_PAD_PX))
    fixed = need
    fixed += _FAMILY_PX if "Family" in shown else 0
    for column in columns:
        shown.append(column)
        for prefix, px in (("Δ", _DELTA_PX), ("Δ%", _PCT_PX)):
            if f"{prefix} {column}" in frame:
                shown.append(f"{prefix} {column}")
                headers[f"{prefix} {column}"] = prefix
                fixed += px
    # Characters of a run's name in its header: what the budget leaves each value column.
    per_value = (TABLE_BUDGET - fixed) / max(len(columns), 1)
    chars = int(min(HEADER_CHARS, max(8, (per_value - _CELL_PAD_PX) // _CHAR_PX)))
    short = shorten_run_names(columns, chars)
    headers |= {column: short[column] for column in columns}
    widths = column_widths(frame[shown], headers=headers, budget=TABLE_BUDGET, name_smallest=need)
    fits = max(8, int((widths["Name"] - _CELL_PAD_PX) // _CHAR_PX))
    if longest > fits:
        frame = frame.copy()
        names = [str(n) for n in frame["Name"]]
        short_names = shorten_names(names, fits)
        frame["Name"] = [short_names[n] for n in names]
    config: dict[str, object] = {
        column: st.column_config.TextColumn(
            headers.get(column, column),
            width=widths[column],
            help=column if column in headers else None,
            pinned=column == "Name",
        )
        for column in shown
    }
    return TableLayout(frame, shown, config)


def table_height(rows: int, most: int = _TABLE_MAX_ROWS) -> int:
    """The px height of an st.dataframe showing ``rows`` rows, at most ``most`` (then it
    scrolls).

    >>> table_height(12), table_height(500, most=10)
    (458, 388)
    """
    return _TABLE_HEADER_PX + _TABLE_ROW_PX * min(rows, most)


def show_table(layout: TableLayout, *, key: str) -> None:
    """Display a ``table_layout``, every row in sight (the ``(k more)`` and Total rows come
    last; a table that scrolls inside would hide them)."""
    st.dataframe(
        layout.frame,
        hide_index=True,
        key=key,
        height=table_height(len(layout.frame)),
        column_order=layout.order,
        column_config=layout.config,  # type: ignore[arg-type]
    )


def missing_data(comparison: Comparison, names: tuple[str, ...]) -> str | None:
    """One line saying that no run has any of the summaries of views ``names`` (a tab), and
    what nsys said; None when some run has one."""
    reports_of = [VIEWS[name].report for name in names]
    lacking = [report for report in reports_of if not comparison.has_report(report)]
    if len(lacking) < len(names):
        return None
    reasons = {
        m.run.skipped[report]
        for report in lacking
        for m in comparison.members.values()
        if m.run is not None and report in m.run.skipped
    }
    why = f" nsys: {'; '.join(sorted(reasons))}" if reasons else ""
    what = " nor ".join(f"{reports.TITLES[r]} ({r})" for r in lacking)
    return (
        f"No run has the {what}: captured on a machine without a GPU, or nsys recorded no "
        f"CUDA activity.{why}"
    )


@dataclass(frozen=True)
class ViewParts:
    """What a summary's block draws (``view_parts``): the view, one line when no run has its
    report, its charts (None: not drawn), its table and its CSV."""

    view: ViewComparison
    missing: str | None = None
    grouped: alt.Chart | None = None
    delta: alt.Chart | None = None
    layout: TableLayout | None = None
    csv: bytes = b""


def view_parts(
    comparison: Comparison, name: str, *, by: str, top: int, colors: dict[str, str], charts: bool
) -> ViewParts:
    """Everything one summary's block draws, computed in one go (and memoised per comparison
    by the page): charts of the top keys, the compact table, the CSV of the shown rows."""
    view = comparison.view(name, by)
    missing = missing_data(comparison, (name,))
    if missing is not None:
        return ViewParts(view, missing)
    grouped = None
    if charts:
        grouped = grouped_bars(view.long, unit=view.unit, title=view.title, colors=colors, top=top)
    delta = None
    if len(view.columns) > 1 and (view.long["delta"] != 0).any():
        delta = delta_bars(
            view.long,
            unit=view.unit,
            title=view.title,
            colors=colors,
            baseline=view.baseline,
            top=top,
        )
    return ViewParts(
        view,
        grouped=grouped,
        delta=delta,
        layout=table_layout(view, top),
        csv=to_csv(view, top).encode("utf-8"),
    )


def summary_view(
    prepared: Prepared,
    name: str,
    *,
    colors: dict[str, str],
    top: int,
    by: str = "name",
    charts: bool = True,
) -> ViewComparison | None:
    """One CUDA summary compared: its charts, the table, the CSV download; returns the view
    (None when no run has the report: one line says so)."""
    comparison = prepared.comparison
    parts = memo(prepared, "view", name, by, top, charts)(
        lambda: view_parts(comparison, name, by=by, top=top, colors=colors, charts=charts)
    )
    if parts.missing is not None:
        st.info(parts.missing)
        return None
    view = parts.view
    suffix = "" if by == "name" else f"_{by}"
    for column in view.lacking:
        st.caption(f"{md_escape(column)} has no {view.report} report: its rows read —.")
    if parts.grouped is not None:
        st.altair_chart(parts.grouped, key=f"chart_{name}{suffix}")
    if parts.delta is not None:
        st.altair_chart(parts.delta, key=f"delta_{name}{suffix}")
    else:
        st.caption("No differences against the baseline.")
    assert parts.layout is not None
    show_table(parts.layout, key=f"table_{name}{suffix}")
    st.download_button(
        "Download this table (CSV)",
        parts.csv,
        file_name=f"llamaprof-{name}{suffix}-vs-{slug(view.baseline)}.csv",
        mime="text/csv",
        key=f"csv_{name}{suffix}",
        icon=":material/download:",
        on_click="ignore",
    )
    return view


def subset_view(view: ViewComparison, rows: pd.DataFrame, title: str) -> ViewComparison:
    """``view`` with only ``rows`` of its long frame (a family's kernels), titled ``title``."""
    return replace(view, long=rows.reset_index(drop=True), title=title, totals={})


# --- throughput ----------------------------------------------------------------------------


def throughput_view(prepared: Prepared, *, colors: dict[str, str]) -> ViewComparison | None:
    """Tokens/s, latency and time to first token per column (mean ± spread for repeats),
    from the capture records: cards, then the table and its CSV; returns the view."""
    comparison = prepared.comparison
    view = comparison.view(THROUGHPUT)
    if view.long.empty:
        st.info(
            "No run has a capture record with throughput figures: runs captured by "
            "`llamaprof capture` keep llama-server's timings in `<name>.llamaprof.json`."
        )
        return None
    st.caption(THROUGHPUT_CAPTION)
    long = view.long
    columns = view.columns
    per_row = min(len(columns), 4)
    keys = card_keys("throughput", columns)
    for start in range(0, len(columns), per_row):
        row = st.columns(per_row)
        for container, column in zip(row, columns[start : start + per_row], strict=False):
            part = long[long["run"] == column]
            with container.container(border=True, key=keys[column]):
                star = " (baseline)" if column == comparison.baseline else ""
                st.markdown(_swatch(column, colors[column]) + star, unsafe_allow_html=True)
                for metric in part.itertuples(index=False):
                    if metric.status in ("missing", "absent"):
                        continue
                    fmt = unit_formatter(view.units[metric.name])
                    std = metric.std if metric.n > 1 else None
                    delta = None
                    if column != comparison.baseline and metric.status == "changed":
                        delta = change_text(metric.delta_pct, metric.status)
                        if metric.noise:
                            delta += " (noise)"
                    better = view.better.get(metric.name, "higher")
                    text = value_text(fmt, metric.value, std)
                    if view.units[metric.name] == "tokens/s":
                        # "generation tokens/s" says the unit: the value and spread fit the card
                        text = text.removesuffix(" tokens/s")
                    st.metric(
                        metric.name,
                        text,
                        delta,
                        delta_color="normal" if better == "higher" else "inverse",
                    )
    show_table(memo(prepared, "throughput")(lambda: table_layout(view, 0)), key="table_throughput")
    st.download_button(
        "Download this table (CSV)",
        to_csv(view).encode("utf-8"),
        file_name=f"llamaprof-throughput-vs-{slug(view.baseline)}.csv",
        mime="text/csv",
        key="csv_throughput",
        icon=":material/download:",
        on_click="ignore",
    )
    return view
