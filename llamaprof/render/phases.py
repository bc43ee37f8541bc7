"""Phases of a run as text: the table ``llamaprof phases`` prints, as columns, CSV or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd

from llamaprof.analyze.phases import PHASE_COLUMNS

__all__ = ["render_phases"]

_HEADERS = ["Phase", "Start (ms)", "End (ms)", "Duration (ms)", "Source"]


def _ms(ns: int) -> str:
    return f"{ns / 1e6:,.3f}"


def render_phases(frame: pd.DataFrame, fmt: str, notes: Sequence[str] = ()) -> str:
    """``frame`` (``analyze.phases.phases_frame``) as ``column`` text (times in ms, 3
    decimals, for people), ``csv`` (``PHASE_COLUMNS``, ns) or ``json``
    (``{"phases": [{"name", "start_ns", "end_ns", "source"}], "notes": [...]}``, ns on the
    nsys timeline). Ends in a newline.
    """
    if fmt == "json":
        phases = [
            {"name": n, "start_ns": int(s), "end_ns": int(e), "source": src}
            for n, s, e, src in frame[["name", "start_ns", "end_ns", "source"]].itertuples(
                index=False
            )
        ]
        return json.dumps({"phases": phases, "notes": list(notes)}, indent=2) + "\n"
    if fmt == "csv":
        return frame[PHASE_COLUMNS].to_csv(index=False, lineterminator="\n")
    rows = [
        [str(n), _ms(s), _ms(e), _ms(d), str(src)]
        for n, s, e, d, src in frame[PHASE_COLUMNS].itertuples(index=False)
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(_HEADERS)]
    right = [False, True, True, True, False]

    def line(cells: list[str]) -> str:
        return (
            " "
            + "  ".join(
                c.rjust(w) if r else c.ljust(w)
                for c, w, r in zip(cells, widths, right, strict=True)
            ).rstrip()
        )

    out = [line(_HEADERS), line(["-" * w for w in widths]), *(line(r) for r in rows)]
    return "\n".join(out) + "\n"
