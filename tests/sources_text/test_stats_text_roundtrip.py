"""Property: any API table printed in nsys's column layout, in any number style, reads back exactly."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from llamaprof import reports
from llamaprof.errors import ReportParseError
from llamaprof.sources.stats_text import parse_stats_text

HEADERS = ["Time (%)", "Total Time (ns)", "Num Calls", "Avg (ns)", "Med (ns)", "Min (ns)",
           "Max (ns)", "StdDev (ns)", "Name"]  # fmt: skip
STYLES = {"us": (",", "."), "none": ("", "."), "european": (".", ",")}

_row = st.tuples(
    st.integers(0, 1000).map(lambda x: Decimal(x) / 10),  # time %
    st.integers(0, 10**13),  # total
    st.integers(1, 10**7),  # count
    st.integers(0, 10**12).map(lambda x: Decimal(x) / 10),  # avg
    st.integers(0, 10**12).map(lambda x: Decimal(x) / 10),  # med
    st.integers(0, 10**11),  # min
    st.integers(0, 10**11),  # max
    st.integers(0, 10**12).map(lambda x: Decimal(x) / 10),  # stddev
    st.text("abcdefghij_<>(),*: ", min_size=1, max_size=60).map(str.strip).filter(bool),
)


def _fmt(value: int | Decimal, group: str, decimal: str) -> str:
    text = f"{value:,.1f}" if isinstance(value, Decimal) else f"{value:,}"
    return text.replace(",", "\0").replace(".", decimal).replace("\0", group)


@settings(max_examples=150, deadline=None, database=None)
@given(rows=st.lists(_row, min_size=1, max_size=8), style=st.sampled_from(sorted(STYLES)))
def test_printed_api_tables_read_back_exactly(rows: list[tuple], style: str) -> None:
    """Numbers with `,`/`.`/no grouping and European decimals, names with spaces: all exact."""
    group, decimal = STYLES[style]
    cells = [[_fmt(v, group, decimal) for v in row[:8]] + [row[8]] for row in rows]
    widths = [max(len(h), *(len(r[c]) for r in cells)) for c, h in enumerate(HEADERS)]
    lines = [" " + "  ".join(h.center(w) for h, w in zip(HEADERS, widths, strict=True))]
    lines.append(" " + "  ".join("-" * w for w in widths))
    for r in cells:
        lines.append(" " + "  ".join(
            c.ljust(w) if k == 8 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths, strict=True))
        ))  # fmt: skip
    text = " ** CUDA API Summary (cuda_api_sum):\n\n" + "\n".join(lines) + "\n"
    api = parse_stats_text(text, Path("x")).summaries[reports.API]
    expected = [
        [float(r[0]), r[1], r[2], float(r[3]), float(r[4]), r[5], r[6], float(r[7]), r[8]]
        for r in rows
    ]
    assert api.values.tolist() == expected


_SOUP = [
    " ** CUDA GPU Kernel Summary (gpukernsum):",
    "CUDA Memory Operation Statistics (by size in KiB):",
    " Time (%)  Total Time (ns)  Instances  Avg (ns)  Med (ns)  Min (ns)  Max (ns)  StdDev (ns)      GridXYZ          BlockXYZ      Name",
    " --------  ---------------  ---------  --------  --------  --------  --------  -----------  ----------------  --------------  ----",
    "     87.5           202943          1  202943.0  202943.0    202943    202943          0.0  125000    1    1    32    1    1  k",
    "   Total     Operations  Average  Minimum  Maximum               Operation            ",
    " ----------  ----------  -------  -------  --------  ---------------------------------",
    " 393216.000        2304  170.667    4.000  1020.000  [CUDA Unified Memory memcpy HtoD]",
    "    93,0       12.373.190          1  12.373.190,0  12.373.190  12.373.190  cuMemHostAlloc",
    "Running [/x/reports/gpumemsizesum.py r.sqlite]... SKIPPED: r.sqlite does not contain GPU memory data.",
    "```",
    "",
    "Time (%),Total Time (ns),Instances,Avg (ns),Med (ns),Min (ns),Max (ns),StdDev (ns),GridXYZ,BlockXYZ,Name",
    '87.5,202943,1,202943.0,202943.0,202943,202943,0.0," 896    1    1","  32    1    1","a, b"',
    "Total (MB),Count,Avg (MB),Med (MB),Min (MB),Max (MB),StdDev (MB),Operation",
    '"482,333",3,"160,778",1,1,1,1,[CUDA memset]',
]


@settings(max_examples=300, deadline=None, database=None)
@given(lines=st.lists(st.one_of(st.sampled_from(_SOUP), st.text(max_size=60)), max_size=30))
def test_pasted_text_gives_a_run_or_a_one_line_error(lines: list[str]) -> None:
    """Whatever is pasted, parse_stats_text returns a Run or raises a one-line ReportParseError."""
    try:
        run = parse_stats_text("\n".join(lines), Path("pasted"))
    except ReportParseError as exc:
        assert "\n" not in str(exc)
        return
    for report, frame in run.summaries.items():
        assert list(frame.columns) == reports.COLUMNS[report]
