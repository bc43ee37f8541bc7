"""The nsys renderers: byte-for-byte against real `nsys stats` output, and their rules.

The round trips parse real outputs with the small parser in this folder's conftest
(independent of llamaprof's readers) and, where the readers exist, through
``llamaprof.sources`` too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from llamaprof import reports
from llamaprof.model import KernelNaming, ReportFormat, Run
from llamaprof.render import nsys_format
from llamaprof.render.nsys_format import (
    csv_header,
    render_column,
    render_csv,
    render_json,
    sql_round,
    title_line,
)

from shared_data import SEED_TEXT, shared_files


def make_run(summaries: dict[str, pd.DataFrame], **kwargs) -> Run:
    return Run(path=Path("test.sqlite"), format=ReportFormat.SQLITE, summaries=summaries, **kwargs)


def api_frame(rows: list[tuple]) -> pd.DataFrame:
    """API rows: (time_pct, total, count, avg, med, min, max, stddev, name)."""
    columns = ["time_pct", *reports.TIME_STATS, "name"]
    return pd.DataFrame(rows, columns=columns)


def size_frame(rows: list[tuple]) -> pd.DataFrame:
    columns = [*reports.SIZE_STATS, "operation"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["op"] = frame["operation"].map(reports.canonical_op)
    return frame


# ---------------------------------------------------------------------------
# The seed (nsys 2025.1.3): every table, byte for byte.


def test_seed_has_the_three_tables(seed) -> None:
    """The seed holds the API, kernel and memory-time tables, in nsys order."""
    _frames, blocks = seed
    assert list(blocks) == [reports.API, reports.KERNELS, reports.MEM_TIME]


@pytest.mark.parametrize("report", [reports.API, reports.KERNELS, reports.MEM_TIME])
def test_seed_tables_render_byte_for_byte(seed, report: str) -> None:
    """Each table of the seed renders byte for byte from its numbers."""
    frames, blocks = seed
    run = make_run(frames)
    assert render_column(run, report) == blocks[report]


def test_seed_kernel_names_cut_at_100_characters(seed) -> None:
    """A kernel name over 100 characters is cut to 99 plus an ellipsis."""
    frames, blocks = seed
    long_name = "void mul_mat_vec<__half, __half, (int)1, (int)256>(" + "const float *, " * 10 + ")"
    frame = frames[reports.KERNELS].copy()
    frame.loc[0, "name"] = long_name
    out = render_column(make_run({reports.KERNELS: frame}), reports.KERNELS)
    first_row = out.splitlines()[4]
    assert first_row.endswith(long_name[:99] + "…")
    assert out == blocks[reports.KERNELS].replace(
        blocks[reports.KERNELS].splitlines()[4][-100:], long_name[:99] + "…", 1
    )


def test_seed_through_the_text_reader(seed) -> None:
    """End to end: the text reader's Run renders the seed's tables byte for byte."""
    pytest.importorskip("llamaprof.sources.stats_text")
    from llamaprof.sources import load_report

    _frames, blocks = seed
    run = load_report(SEED_TEXT)
    for report, block in blocks.items():
        assert render_column(run, report) == block


# ---------------------------------------------------------------------------
# CSV: real `nsys stats --format csv` files, byte for byte.

CODEGANDEE = shared_files("stats-csv/CodeGandee__llm-perf-opt__*.csv")
_CSV_FIELDS = {
    "Time (%)": "time_pct",
    "Total Time (ns)": "total_ns",
    "Instances": "count",
    "Avg (ns)": "avg_ns",
    "Med (ns)": "med_ns",
    "Min (ns)": "min_ns",
    "Max (ns)": "max_ns",
    "StdDev (ns)": "stddev_ns",
    "Name": "name",
}


@pytest.mark.parametrize("path", CODEGANDEE, ids=lambda p: p.name)
def test_real_csv_renders_byte_for_byte(path: Path) -> None:
    """A real nsys kernel-summary CSV renders back byte for byte."""
    source = path.read_bytes().decode("utf-8")
    frame = pd.read_csv(path).rename(columns=_CSV_FIELDS)
    run = make_run({reports.KERNELS: frame})
    assert "\r" not in source  # nsys ends CSV lines with \n
    assert render_csv(run, reports.KERNELS) == source


@pytest.mark.parametrize("path", CODEGANDEE, ids=lambda p: p.name)
def test_real_csv_through_the_csv_reader(path: Path) -> None:
    """A real nsys CSV read by the CSV reader renders back byte for byte."""
    pytest.importorskip("llamaprof.sources.stats_csv")
    from llamaprof.sources import load_report

    run = load_report(path)
    assert render_csv(run, reports.KERNELS) == path.read_bytes().decode("utf-8")


def test_seed_tables_as_csv(seed) -> None:
    """The seed's memory-time table as CSV has raw values and 1-decimal statistics."""
    frames, _blocks = seed
    out = render_csv(make_run(frames), reports.MEM_TIME)
    assert out == (
        "Time (%),Total Time (ns),Count,Avg (ns),Med (ns),Min (ns),Max (ns),StdDev (ns),Operation\n"
        "87.6,2527438955,5749,439631.1,1600.0,319,413623340,5864457.8,[CUDA memcpy Host-to-Device]\n"
        "11.7,338976207,1061,319487.5,319103.0,318719,332639,1401.7,[CUDA memcpy Device-to-Host]\n"
        "0.7,18757906,6,3126317.7,2499002.0,320127,7067246,3163909.3,[CUDA memset]\n"
    )


def test_csv_quotes_only_when_needed_and_never_cuts() -> None:
    """CSV quotes a name only when it holds a comma or quote, and never cuts it."""
    long_name = "k" * 150
    frame = api_frame(
        [
            (50.0, 10, 1, 10.0, 10.0, 10, 10, 0.0, 'void f<(int)1>(const T1 *, float, "x")'),
            (30.0, 6, 1, 6.0, 6.0, 6, 6, 0.0, long_name),
            (20.0, 4, 1, 4.0, 4.0, 4, 4, 0.0, "cudaMalloc"),
        ]
    )
    out = render_csv(make_run({reports.API: frame}), reports.API)
    lines = out.splitlines()
    assert lines[1].endswith(',"void f<(int)1>(const T1 *, float, ""x"")"')
    assert lines[2].endswith("," + long_name)
    assert lines[3] == "20.0,4,1,4.0,4.0,4,4,0.0,cudaMalloc"


def test_csv_headers() -> None:
    """CSV headers are nsys's display names with the unit in parentheses."""
    assert csv_header(reports.API) == (
        "Time (%),Total Time (ns),Num Calls,Avg (ns),Med (ns),Min (ns),Max (ns),StdDev (ns),Name"
    )
    assert csv_header("gpukernsum").split(",")[2] == "Instances"
    assert csv_header(reports.MEM_TIME).endswith(
        ",Count,Avg (ns),Med (ns),Min (ns),Max (ns),StdDev (ns),Operation"
    )
    assert csv_header(reports.MEM_SIZE) == (
        "Total (MB),Count,Avg (MB),Med (MB),Min (MB),Max (MB),StdDev (MB),Operation"
    )
    assert csv_header(reports.API, "ms").startswith("Time (%),Total Time (ms),Num Calls,Avg (ms)")


# ---------------------------------------------------------------------------
# Rounding and number rules.


def test_sql_round_is_half_away_from_zero_on_the_decimal_value() -> None:
    """sql_round rounds ties away from zero on the decimal value, as SQLite does."""
    assert str(sql_round(0.25)) == "0.3"
    assert str(sql_round(1.45)) == "1.5"
    assert str(sql_round(3745.25)) == "3745.3"
    assert str(sql_round(-3745.25)) == "-3745.3"
    assert str(sql_round(2.5, 0)) == "3"
    assert str(sql_round(1744.5)) == "1744.5"


def test_averages_ending_in_25_round_up_like_sqlite() -> None:
    """An average ending in .25 prints .3 like nsys's SQL, not .2 like Python's round."""
    frame = api_frame([(100.0, 14981, 4, 3745.25, 3745.25, 3000, 4500, 614.75, "cudaFree")])
    run = make_run({reports.API: frame})
    assert render_csv(run, reports.API).splitlines()[1] == (
        "100.0,14981,4,3745.3,3745.3,3000,4500,614.8,cudaFree"
    )
    assert "3,745.3" in render_column(run, reports.API)


def test_missing_values_print_empty_and_null() -> None:
    """A value the source lacks prints as an empty cell, and null in JSON."""
    frame = api_frame([(100.0, 10, 2, 5.0, float("nan"), 4, 6, 1.4, "cudaFree")])
    run = make_run({reports.API: frame})
    assert render_csv(run, reports.API).splitlines()[1] == "100.0,10,2,5.0,,4,6,1.4,cudaFree"
    row = json.loads(render_json(run))[reports.API][0]
    assert row["Med (ns)"] is None
    column = render_column(run, reports.API).splitlines()
    assert (
        column[4]
        == "    100.0               10          2       5.0                   4         6          1.4  cudaFree"
    )


def test_header_centring_puts_the_odd_space_right() -> None:
    """Headers are centred with the odd space on the right, as nsys does."""
    assert nsys_format._centred("Name", 33) == " " * 14 + "Name" + " " * 15
    assert nsys_format._centred("Min (ns)", 9) == "Min (ns) "
    assert nsys_format._centred("Max (ns)", 11) == " Max (ns)  "


def test_names_of_exactly_100_characters_are_kept() -> None:
    """A 100-character name is printed whole; a 101-character one is cut."""
    name100, name101 = "a" * 100, "b" * 101
    frame = api_frame(
        [(60.0, 6, 1, 6.0, 6.0, 6, 6, 0.0, name100), (40.0, 4, 1, 4.0, 4.0, 4, 4, 0.0, name101)]
    )
    lines = render_column(make_run({reports.API: frame}), reports.API).splitlines()
    assert lines[4].endswith("  " + name100)
    assert lines[5].endswith("  " + "b" * 99 + "…")
    assert len(lines[3].split()[-1]) == 100


def test_empty_summary_prints_header_and_dashes() -> None:
    """A summary with no rows prints its title, header and dashes."""
    frame = api_frame([])
    out = render_column(make_run({reports.API: frame}), reports.API)
    assert out == (
        " ** CUDA API Summary (cuda_api_sum):\n\n"
        " Time (%)  Total Time (ns)  Num Calls  Avg (ns)  Med (ns)  Min (ns)  Max (ns)  StdDev (ns)  Name\n"
        " --------  ---------------  ---------  --------  --------  --------  --------  -----------  ----\n"
    )
    assert render_csv(make_run({reports.API: frame}), reports.API) == csv_header(reports.API) + "\n"


def test_float_integer_columns_print_as_integers() -> None:
    """Text read in ms gives float totals (3.5261 ms -> 3526100.0 ns); ns prints integers."""
    frame = api_frame(
        [(100.0, 3526100.0, 1.0, 3526100.0, 3526100.0, 3526100.0, 3526100.0, 0.0, "x")]
    )
    assert render_csv(make_run({reports.API: frame}), reports.API).splitlines()[1] == (
        "100.0,3526100,1,3526100.0,3526100.0,3526100,3526100,0.0,x"
    )


# ---------------------------------------------------------------------------
# --timeunit: against a real 2022.4.2 `nsys stats --timeunit ms` output
# (Pandananana/python-hpc q1_4.sh; 2022.4 printed no thousands separators, which
# these values never need).

_MS_API_TABLE = (
    " Time (%)  Total Time (ms)  Num Calls  Avg (ms)  Med (ms)  Min (ms)  Max (ms)  StdDev (ms)           Name         \n"
    " --------  ---------------  ---------  --------  --------  --------  --------  -----------  ----------------------\n"
    "     55.8           3.5261          1    3.5261    3.5261    3.5261    3.5261       0.0000  cuMemcpyHtoD_v2       \n"
    "     14.3           0.9054          2    0.4527    0.4527    0.3314    0.5740       0.1716  cuModuleLoadDataEx    \n"
    "      1.5           0.0968        384    0.0003    0.0002    0.0001    0.0031       0.0002  cuGetProcAddress      \n"
    "      0.0           0.0002          1    0.0002    0.0002    0.0002    0.0002       0.0000  cuModuleGetLoadingMode\n"
)


def test_timeunit_ms_matches_real_output() -> None:
    """--timeunit ms renders the layout of a real nsys --timeunit ms output."""
    frame = api_frame(
        [
            (55.8, 3526100, 1, 3526100.0, 3526100.0, 3526100, 3526100, 0.0, "cuMemcpyHtoD_v2"),
            (14.3, 905400, 2, 452700.0, 452700.0, 331400, 574000, 171600.0, "cuModuleLoadDataEx"),
            (1.5, 96800, 384, 252.1, 208.0, 138, 3100, 200.0, "cuGetProcAddress"),
            (0.0, 226, 1, 226.0, 226.0, 226, 226, 0.0, "cuModuleGetLoadingMode"),
        ]
    )
    out = render_column(make_run({reports.API: frame}), reports.API, timeunit="ms")
    assert out == " ** CUDA API Summary (cuda_api_sum):\n\n" + _MS_API_TABLE


def test_timeunit_us_and_s() -> None:
    """--timeunit us and s rescale every time column and keep 4 decimals."""
    frame = api_frame(
        [(100.0, 18784449306, 13185, 1424683.3, 6991.0, 306, 26541226, 4702507.3, "x")]
    )
    run = make_run({reports.API: frame})
    us = render_csv(run, reports.API, timeunit="us").splitlines()
    assert us[0].startswith(
        "Time (%),Total Time (us),Num Calls,Avg (us),Med (us),Min (us),Max (us),StdDev (us)"
    )
    assert us[1] == "100.0,18784449.3060,13185,1424.6833,6.9910,0.3060,26541.2260,4702.5073,x"
    s = render_column(run, reports.API, timeunit="s").splitlines()
    assert s[2].split() == [
        "Time",
        "(%)",
        "Total",
        "Time",
        "(s)",
        "Num",
        "Calls",
        "Avg",
        "(s)",
        "Med",
        "(s)",
        "Min",
        "(s)",
        "Max",
        "(s)",
        "StdDev",
        "(s)",
        "Name",
    ]
    assert s[4].split() == [
        "100.0",
        "18.7844",
        "13,185",
        "0.0014",
        "0.0000",
        "0.0000",
        "0.0265",
        "0.0047",
        "x",
    ]
    us_column = render_column(run, reports.API, timeunit="us").splitlines()[4]
    assert "18,784,449.3060" in us_column


def test_unknown_timeunit_is_refused() -> None:
    """An unknown time unit is a ValueError."""
    with pytest.raises(ValueError, match="unknown time unit"):
        render_csv(make_run({reports.API: api_frame([])}), reports.API, timeunit="min")


# ---------------------------------------------------------------------------
# The size report: MB = 10^6 bytes, 3 decimals.

_SIZE_TABLE_2022 = (
    " Total (MB)  Count  Avg (MB)  Med (MB)  Min (MB)  Max (MB)  StdDev (MB)      Operation     \n"
    " ----------  -----  --------  --------  --------  --------  -----------  ------------------\n"
    "     16.000      1    16.000    16.000    16.000    16.000        0.000  [CUDA memcpy HtoD]\n"
    "      0.500      1     0.500     0.500     0.500     0.500        0.000  [CUDA memcpy DtoH]\n"
)


def test_size_report_matches_real_output() -> None:
    """The size report renders a real nsys size table (MB with 3 decimals)."""
    frame = size_frame(
        [
            (
                16_000_000,
                1,
                16_000_000.0,
                16_000_000.0,
                16_000_000,
                16_000_000,
                0.0,
                "[CUDA memcpy HtoD]",
            ),
            (500_000, 1, 500_000.0, 500_000.0, 500_000, 500_000, 0.0, "[CUDA memcpy DtoH]"),
        ]
    )
    out = render_column(make_run({reports.MEM_SIZE: frame}), reports.MEM_SIZE)
    assert (
        out
        == " ** CUDA GPU MemOps Summary (by Size) (cuda_gpu_mem_size_sum):\n\n" + _SIZE_TABLE_2022
    )


def test_size_report_csv_and_thousands() -> None:
    """Sizes are MB = 10^6 bytes with 3 decimals in CSV and with separators in columns."""
    frame = size_frame(
        [
            (
                7_195_376_640,
                872,
                8_251_578.7,
                4_194_304.0,
                524_288,
                67_108_864,
                12_345_678.9,
                "[CUDA memcpy Device-to-Device]",
            ),
            (256, 32, 8.0, 8.0, 8, 8, 0.0, "[CUDA memcpy Host-to-Device]"),
        ]
    )
    run = make_run({reports.MEM_SIZE: frame})
    assert render_csv(run, reports.MEM_SIZE) == (
        "Total (MB),Count,Avg (MB),Med (MB),Min (MB),Max (MB),StdDev (MB),Operation\n"
        "7195.377,872,8.252,4.194,0.524,67.109,12.346,[CUDA memcpy Device-to-Device]\n"
        "0.000,32,0.000,0.000,0.000,0.000,0.000,[CUDA memcpy Host-to-Device]\n"
    )
    assert (
        render_column(run, reports.MEM_SIZE)
        .splitlines()[4]
        .startswith(
            "  7,195.377    872     8.252     4.194     0.524    67.109       12.346  [CUDA"
        )
    )
    # the time unit never touches sizes
    assert render_csv(run, reports.MEM_SIZE, timeunit="ms") == render_csv(run, reports.MEM_SIZE)


# ---------------------------------------------------------------------------
# Kernel naming and nsys 2022.4 grid/block rows.


def _kernel_frame(names: list[str], grid: list[str] | None = None) -> pd.DataFrame:
    n = len(names)
    frame = pd.DataFrame(
        {
            "time_pct": [round(100 / n, 1)] * n,
            "total_ns": [100] * n,
            "count": [1] * n,
            "avg_ns": [100.0] * n,
            "med_ns": [100.0] * n,
            "min_ns": [100] * n,
            "max_ns": [100] * n,
            "stddev_ns": [0.0] * n,
            "name": names,
            "demangled_name": names,
            "base_name": [pd.NA] * n,
            "mangled_name": [pd.NA] * n,
            "grid": grid if grid is not None else [pd.NA] * n,
            "block": ["  32    1    1"] * n if grid is not None else [pd.NA] * n,
        }
    )
    return frame


def test_kernel_naming_picks_the_variant() -> None:
    """The kernel naming picks the run's variant and falls back to demangled names."""
    demangled = _kernel_frame(["void k<(int)1>(float *)"])
    base = _kernel_frame(["k"])
    run = make_run({reports.KERNELS: demangled}, kernel_variants={KernelNaming.BASE: base})
    assert render_csv(run, reports.KERNELS).splitlines()[1].endswith(",void k<(int)1>(float *)")
    assert render_csv(run, reports.KERNELS, naming=KernelNaming.BASE).splitlines()[1].endswith(",k")
    # no mangled variant: nsys falls back to the demangled names
    assert render_csv(run, reports.KERNELS, naming=KernelNaming.MANGLED) == render_csv(
        run, reports.KERNELS
    )


def test_grid_rows_are_merged_by_name() -> None:
    """Kernel rows split by grid/block (nsys 2022.4) print merged by name, without grid columns."""
    frame = _kernel_frame(
        ["k", "k", "j"], grid=["   1    1    1", "   4    1    1", "   1    1    1"]
    )
    frame["time_pct"] = [33.3, 33.3, 33.3]
    frame["total_ns"] = [100, 200, 150]
    frame["min_ns"] = [100, 200, 150]
    frame["max_ns"] = [100, 200, 150]
    frame["avg_ns"] = frame["med_ns"] = [100.0, 200.0, 150.0]
    run = make_run({reports.KERNELS: frame})
    assert render_csv(run, reports.KERNELS) == (
        "Time (%),Total Time (ns),Instances,Avg (ns),Med (ns),Min (ns),Max (ns),StdDev (ns),Name\n"
        "66.7,300,2,150.0,,100,200,,k\n"
        "33.3,150,1,150.0,150.0,150,150,0.0,j\n"
    )
    assert "GridXYZ" not in render_column(run, reports.KERNELS)


def test_grid_rows_with_unique_names_print_the_current_layout() -> None:
    """Grid/block rows whose names are already unique print as they are, without grid columns."""
    frame = _kernel_frame(["k"], grid=["   1    1    1"])
    lines = render_column(make_run({reports.KERNELS: frame}), reports.KERNELS).splitlines()
    assert lines[2] == (
        " Time (%)  Total Time (ns)  Instances  Avg (ns)  Med (ns)  Min (ns)  Max (ns)  StdDev (ns)  Name"
    )
    assert (
        lines[4]
        == "    100.0              100          1     100.0     100.0       100       100          0.0  k   "
    )


# ---------------------------------------------------------------------------
# JSON and errors.


def test_json_is_keyed_by_report_and_csv_column(seed) -> None:
    """JSON rows are keyed by the CSV header with ints and floats as in the CSV; skipped reports are left out."""
    frames, _blocks = seed
    run = make_run(frames, skipped={reports.MEM_SIZE: "does not contain GPU memory data."})
    data = json.loads(render_json(run))
    assert list(data) == [reports.API, reports.KERNELS, reports.MEM_TIME]
    first = data[reports.API][0]
    assert list(first) == csv_header(reports.API).split(",")
    assert first == {
        "Time (%)": 81.2,
        "Total Time (ns)": 18784449306,
        "Num Calls": 13185,
        "Avg (ns)": 1424683.3,
        "Med (ns)": 6991.0,
        "Min (ns)": 306,
        "Max (ns)": 26541226,
        "StdDev (ns)": 4702507.3,
        "Name": "cudaStreamSynchronize",
    }
    assert isinstance(first["Num Calls"], int) and isinstance(first["Med (ns)"], float)
    assert len(data[reports.KERNELS]) == len(frames[reports.KERNELS])
    only = json.loads(render_json(run, ["gpumemtimesum", "cuda_gpu_mem_size_sum"]))
    assert list(only) == [reports.MEM_TIME]


def test_missing_report_raises_key_error() -> None:
    """Rendering a report the run lacks raises KeyError; an unknown name raises ValueError."""
    run = make_run({})
    with pytest.raises(KeyError):
        render_column(run, reports.API)
    with pytest.raises(KeyError):
        render_csv(run, reports.API)
    with pytest.raises(ValueError, match="unknown report"):
        render_column(run, "osrt_sum")


def test_title_lines() -> None:
    """Title lines use the current report names and nsys's titles."""
    assert title_line("cudaapisum") == " ** CUDA API Summary (cuda_api_sum):"
    assert (
        title_line(reports.MEM_TIME)
        == " ** CUDA GPU MemOps Summary (by Time) (cuda_gpu_mem_time_sum):"
    )
