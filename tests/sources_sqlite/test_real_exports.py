"""The SQLite reader on real exports (../shared/data/nsys/sqlite), against nsys's own outputs.

Three kinds of evidence: the golden pairs (an export and the ``nsys stats`` text printed from
it), literal rows and facts read off the real files, and a plain-SQL reference that computes
each summary the way nsys's report scripts do (GROUP BY + median/stdev aggregates) for every
real export.
"""

from __future__ import annotations

import sqlite3
import statistics
from pathlib import Path

import pandas as pd
import pytest

from llamaprof import reports
from llamaprof.model import KernelNaming, ReportFormat
from llamaprof.sources import load_report
from llamaprof.sources.sqlite_export import read_sqlite

from shared_data import shared_file, shared_files

REAL_EXPORTS = shared_files("sqlite/*.sqlite")

#: What each real export lacks, as nsys would report it.
EXPECTED_SKIPS = {
    "frasertajima__WeatherBench2__report1.sqlite": {reports.KERNELS},
    "mabdullahsoyturk__cardiac-simulation__report1.sqlite": set(reports.REPORT_NAMES),
}


@pytest.mark.parametrize("path", REAL_EXPORTS, ids=lambda p: p.name)
def test_every_real_export_reads_with_the_right_skips(path: Path):
    """Each real export reads; only the reports whose tables are absent are skipped."""
    run = load_report(path)
    assert run.format is ReportFormat.SQLITE
    assert set(run.skipped) == EXPECTED_SKIPS.get(path.name, set())
    assert set(run.summaries) == set(reports.REPORT_NAMES) - set(run.skipped)
    for report, frame in run.summaries.items():
        assert frame.columns.tolist() == reports.COLUMNS[report]
        assert not frame.empty
    if reports.KERNELS in run.summaries:
        assert set(run.kernel_variants) == {KernelNaming.BASE, KernelNaming.MANGLED}


# -- the plain-SQL reference ---------------------------------------------------------------


class _Median:
    def __init__(self) -> None:
        self.values: list[int] = []

    def step(self, value: int) -> None:
        self.values.append(value)

    def finalize(self) -> float:
        return float(statistics.median(self.values))


class _Stdev(_Median):
    def finalize(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0


_STATS = "sum(d) AS total, count(*) AS num, avg(d) AS a, median(d) AS med, min(d) AS mn, max(d) AS mx, stdev(d) AS sd"
_TIME_COLUMNS = "round(total * 100.0 / (SELECT sum(total) FROM s), 1), total, num, round(a, 1), round(med, 1), mn, mx, round(sd, 1)"


def _reference(path: Path, report: str) -> list[list]:
    """Rows of ``report`` computed in SQL, the way nsys's 2024+ report scripts do."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    con.create_aggregate("median", 1, _Median)
    con.create_aggregate("stdev", 1, _Stdev)
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    if report == reports.API:
        sql = f"""WITH s AS (SELECT nameId, {_STATS} FROM
                      (SELECT nameId, end - start AS d FROM CUPTI_ACTIVITY_KIND_RUNTIME) GROUP BY nameId)
                  SELECT {_TIME_COLUMNS}, CASE substr(v.value, -6, 2) WHEN '_v'
                      THEN substr(v.value, 1, length(v.value) - 6) ELSE v.value END
                  FROM s LEFT JOIN StringIds v ON v.id = s.nameId ORDER BY total DESC, nameId"""
    elif report == reports.KERNELS:
        sql = f"""WITH s AS (SELECT demangledName AS id, {_STATS} FROM
                      (SELECT demangledName, end - start AS d FROM CUPTI_ACTIVITY_KIND_KERNEL)
                      GROUP BY demangledName)
                  SELECT {_TIME_COLUMNS}, v.value AS name FROM s LEFT JOIN StringIds v ON v.id = s.id
                  ORDER BY total DESC, num ASC, name ASC"""
    else:
        if "ENUM_CUDA_MEMCPY_OPER" in tables:
            labels = "SELECT id, '[CUDA memcpy ' || label || ']' AS name FROM ENUM_CUDA_MEMCPY_OPER"
        else:
            short = ["Unknown", "HtoD", "DtoH", "HtoA", "AtoH", "AtoA", "AtoD", "DtoA", "DtoD",
                     "HtoH", "PtoP"]  # fmt: skip
            names = [f"[CUDA memcpy {s}]" for s in short] + [
                f"[CUDA Unified Memory memcpy {s}]" for s in ("HtoD", "DtoH", "DtoD")
            ]
            labels = " UNION ALL ".join(
                f"SELECT {i} AS id, '{n}' AS name" for i, n in enumerate(names)
            )
        parts = []
        value = "end - start" if report == reports.MEM_TIME else "bytes"
        if "CUPTI_ACTIVITY_KIND_MEMCPY" in tables:
            parts.append(
                f"SELECT l.name, m.{value} AS d FROM CUPTI_ACTIVITY_KIND_MEMCPY m"
                f" JOIN ({labels}) l ON l.id = m.copyKind"
            )
        if "CUPTI_ACTIVITY_KIND_MEMSET" in tables:
            parts.append(
                f"SELECT '[CUDA memset]' AS name, {value} AS d FROM CUPTI_ACTIVITY_KIND_MEMSET"
            )
        columns = _TIME_COLUMNS if report == reports.MEM_TIME else "total, num, a, med, mn, mx, sd"
        sql = f"""WITH s AS (SELECT name, {_STATS} FROM ({" UNION ALL ".join(parts)}) GROUP BY name)
                  SELECT {columns}, name FROM s ORDER BY total DESC, name"""
    try:
        return [list(row) for row in con.execute(sql)]
    finally:
        con.close()


@pytest.mark.parametrize("report", reports.REPORT_NAMES)
@pytest.mark.parametrize("path", REAL_EXPORTS, ids=lambda p: p.name)
def test_summaries_match_a_plain_sql_reference(path: Path, report: str):
    """Every number, name and the row order agree with nsys's SQL computed by SQLite itself."""
    run = read_sqlite(path)
    if report in run.skipped:
        pytest.skip(f"{path.name} has no {report}")
    frame = run.summaries[report]
    ours = frame.drop(columns=["demangled_name", "base_name", "mangled_name", "grid", "block",
                               "op"], errors="ignore").values.tolist()  # fmt: skip
    expected = _reference(path, report)
    if report == reports.MEM_SIZE:  # unrounded stddev: exact fractions vs float two-pass
        for row in expected:
            row[6] = pytest.approx(row[6], rel=1e-12)
    assert ours == expected


# -- golden pairs: the export and the `nsys stats` text (2022.4.2) printed from it ----------


def _printed_section(text: str, title: str) -> list[list[str]]:
    """Rows of one ``nsys stats`` table, each split into its whitespace-separated fields."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"** {title}:")
    rows = []
    for line in lines[start + 4 :]:  # title, blank, header, dashes
        if not line.strip():
            break
        rows.append(line.split())
    return rows


GOLDEN = [
    ("sqlite/Pandananana__python-hpc__q1_1.sqlite",
     "stats-text/Pandananana__python-hpc__q1_2.sh.stats.txt"),
    ("sqlite/Pandananana__python-hpc__q1_3.sqlite",
     "stats-text/Pandananana__python-hpc__q1_3.sh.stats.txt"),
]  # fmt: skip


@pytest.mark.parametrize(("export", "printed"), GOLDEN, ids=["q1_1", "q1_3"])
def test_golden_pair_api_summary_is_identical(export: str, printed: str):
    """The CUDA API summary matches the printed 2022.4.2 table in every number and name."""
    run = read_sqlite(shared_file(export))
    text = shared_file(printed).read_text()
    expected = [
        [float(r[0]), int(r[1]), int(r[2]), float(r[3]), float(r[4]), int(r[5]), int(r[6]),
         float(r[7]), r[8]]
        for r in _printed_section(text, "CUDA API Summary (cudaapisum)")
    ]  # fmt: skip
    assert run.summaries[reports.API].values.tolist() == expected


@pytest.mark.parametrize(("export", "printed"), GOLDEN, ids=["q1_1", "q1_3"])
def test_golden_pair_memory_summaries_are_identical(export: str, printed: str):
    """Memory summaries match the printed tables; 2022.4 printed short labels, we print long."""
    run = read_sqlite(shared_file(export))
    text = shared_file(printed).read_text()
    by_time = _printed_section(text, "GPU MemOps Summary (by Time) (gpumemtimesum)")
    time = run.summaries[reports.MEM_TIME]
    assert [reports.canonical_op(" ".join(r[8:])) for r in by_time] == time["op"].tolist()
    assert time.drop(columns=["operation", "op"]).values.tolist() == [
        [float(r[0]), int(r[1]), int(r[2]), float(r[3]), float(r[4]), int(r[5]), int(r[6]),
         float(r[7])]
        for r in by_time
    ]  # fmt: skip
    assert time["operation"].tolist()[0] == "[CUDA memcpy Host-to-Device]"
    by_size = _printed_section(text, "GPU MemOps Summary (by Size) (gpumemsizesum)")
    size = run.summaries[reports.MEM_SIZE]
    assert [reports.canonical_op(" ".join(r[7:])) for r in by_size] == size["op"].tolist()
    megabytes = [
        [f"{v / 1e6:.3f}" if i != 1 else str(int(v)) for i, v in enumerate(row)]
        for row in size.drop(columns=["operation", "op"]).values.tolist()
    ]
    assert megabytes == [r[:7] for r in by_size]


#: Per-name sums of the 2022.4 rows (split by grid/block) printed in the golden texts:
#: total, instances, min, max.
GOLDEN_KERNELS = {
    "q1_1": {"cudapy::__main__::reduce_kernel[": (202943 + 12576 + 5472 + 5472 + 5344, 5, 5344,
                                                   202943)},
    "q1_3": {
        "cudapy::__main__::reduce_kernel[": (201886 + 12064 + 5376 + 4385 + 4224, 5, 4224, 201886),
        "cudapy::numba::cuda::cudadrv::devicearray::_assign_kernel::_3clocals_3e::kernel[": (
            6656 + 4767 + 4032, 2 + 1 + 1, 2976, 4767),
    },
}  # fmt: skip


@pytest.mark.parametrize(("export", "printed"), GOLDEN, ids=["q1_1", "q1_3"])
def test_golden_pair_kernel_totals_per_name(export: str, printed: str):
    """Grouped by name (current nsys), totals/counts/min/max equal the sums of 2022.4's rows."""
    run = read_sqlite(shared_file(export))
    kernels = run.summaries[reports.KERNELS]
    expected = GOLDEN_KERNELS["q1_1" if "q1_1" in export else "q1_3"]
    assert len(kernels) == len(expected)
    for prefix, (total, count, low, high) in expected.items():
        (row,) = kernels[kernels["name"].str.startswith(prefix)].to_dict("records")
        assert (row["total_ns"], row["count"], row["min_ns"], row["max_ns"]) == (
            total,
            count,
            low,
            high,
        )
    printed_names = {" ".join(r[14:]) for r in _printed_section(
        shared_file(printed).read_text(), "CUDA GPU Kernel Summary (gpukernsum)")}  # fmt: skip
    # the text cuts names to 99 characters + "…"; ours are whole
    assert {name[:99] + "…" for name in kernels["name"]} == printed_names


# -- literal rows and facts read off real exports ------------------------------------------


def test_report1_kernel_row():
    """0x822a5b87 report1 (nsys 2026.1.1): its one kernel, exactly."""
    run = read_sqlite(shared_file("sqlite/0x822a5b87__test-cuda__report1.sqlite"))
    kernels = run.summaries[reports.KERNELS]
    assert kernels.drop(columns=["grid", "block"]).values.tolist() == [
        [100.0, 536542, 4, 134135.5, 134231.5, 133752, 134327, 260.9,
         "add_parallel(const float *, const float *, float *, int)",
         "add_parallel(const float *, const float *, float *, int)", "add_parallel",
         "_Z12add_parallelPKfS0_Pfi"],
    ]  # fmt: skip
    assert kernels[["grid", "block"]].isna().all().all()
    assert run.summaries[reports.MEM_TIME]["operation"].tolist() == [
        "[CUDA memcpy Host-to-Device]", "[CUDA memcpy Device-to-Host]",
    ]  # fmt: skip
    assert run.summaries[reports.MEM_SIZE]["total_bytes"].tolist() == [800_000_000, 400_000_000]


def test_versioned_api_names_are_kept_unless_v_plus_four():
    """Sh1mwww (2024.6.2): ``_v2_v12000`` and 5-digit suffixes stay; ``_v10000`` is cut."""
    run = read_sqlite(shared_file("sqlite/Sh1mwww__llama3-inference__demo.sqlite"))
    api = run.summaries[reports.API].set_index("name")
    assert api.loc["cudaGetDeviceProperties_v2_v12000"].tolist() == [
        2.9, 1534706, 1, 1534706.0, 1534706.0, 1534706, 1534706, 0.0,
    ]  # fmt: skip
    assert api.loc["cudaGetDriverEntryPoint_v11030", "count"] == 2
    assert api.loc["cuGetProcAddress_v2", "count"] == 838
    assert "cudaStreamIsCapturing_v10000" in api.index  # "_v1000" + "0": 5 digits kept
    assert api.loc["cudaLaunchKernel", "total_ns"] == 13198375


def test_old_exports_use_short_memcpy_labels():
    """Exports without ENUM_CUDA_MEMCPY_OPER (2020.5, 2021) get the old hard-coded labels."""
    mordred = read_sqlite(
        shared_file("sqlite/bwyogatama__Mordred-Deprecated__report1@03527a5.sqlite")
    )
    assert mordred.summaries[reports.MEM_TIME][
        ["operation", "total_ns", "count"]
    ].values.tolist() == [
        ["[CUDA memset]", 47965, 12],
        ["[CUDA memcpy HtoD]", 45694, 45],
        ["[CUDA memcpy DtoH]", 42301, 3],
    ]
    kmeans = read_sqlite(
        shared_file("sqlite/martisu1631998__kmeans-parallel__report2@81dae01.sqlite")
    )
    assert kmeans.summaries[reports.MEM_SIZE][["operation", "total_bytes"]].values.tolist() == [
        ["[CUDA memcpy HtoD]", 1692065811],
        ["[CUDA memcpy DtoH]", 423014400],
    ]
    assert kmeans.summaries[reports.KERNELS]["mangled_name"].isna().all()


def test_memset_only_and_cuda_less_exports():
    """WeatherBench2 has memory data from one memset only; cardiac has no CUDA data at all."""
    weather = read_sqlite(shared_file("sqlite/frasertajima__WeatherBench2__report1.sqlite"))
    assert weather.summaries[reports.MEM_TIME].drop(columns="op").values.tolist() == [
        [100.0, 1472, 1, 1472.0, 1472.0, 1472, 1472, 0.0, "[CUDA memset]"]
    ]
    assert weather.skipped == {reports.KERNELS: "does not contain CUDA kernel data."}
    cardiac = read_sqlite(
        shared_file("sqlite/mabdullahsoyturk__cardiac-simulation__report1.sqlite")
    )
    assert cardiac.summaries == {}
    assert cardiac.skipped[reports.API] == "does not contain CUDA trace data."
    assert cardiac.info.gpus == ["NVIDIA GeForce RTX 3060 Laptop"]


RUN_FACTS = {
    "0x822a5b87__test-cuda__report1.sqlite": {
        "nsys_version": "2026.1.1.204", "gpus": ["NVIDIA GeForce RTX 4060 Ti"],
        "start_utc": "2026-01-25T02:26:42+00:00", "process_name": "/home/hangyudu/tmp/async.out",
        "command_line": "/home/hangyudu/tmp/async.out",
    },
    "GindaChen__nsys-ai__mfu_2gpu_after.sqlite": {
        "nsys_version": "2026.2.1.210", "gpus": [], "start_utc": "2026-05-26T09:18:46+00:00",
        "process_name": "python3",
        "command_line": "torchrun --nnodes=1 --nproc_per_node=2 --master_port=29506 /tmp/fv_mfu_training.py",
    },
    "Pandananana__python-hpc__q1_1.sqlite": {
        "nsys_version": "2022.4.2.1", "gpus": ["Tesla V100-PCIE-16GB"] * 2,
        "start_utc": "2025-04-09T08:12:11+00:00", "process_name": "python", "command_line": None,
    },
    "RajaATAli__SC23_Programming-Your-GPU-with-OpenMP_Tutorial__report3.sqlite": {
        "nsys_version": "2023.3.1.92", "gpus": ["Tesla T4"], "process_name": "./heat",
        "command_line": "./heat 8000 50", "start_utc": "2023-11-13T20:57:36+00:00",
    },
    "martisu1631998__kmeans-parallel__report2@81dae01.sqlite": {
        "nsys_version": None, "gpus": ["NVIDIA GeForce RTX 3080"], "start_utc": None,
        "process_name": "executable", "command_line": None,  # from ThreadNames (no PROCESSES)
    },
    "bwyogatama__Mordred-Deprecated__report1@03527a5.sqlite": {
        "nsys_version": None, "gpus": ["Quadro RTX 6000"], "process_name": "testqo",
    },
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(RUN_FACTS))
def test_run_facts(name: str):
    """Version, GPUs, start time, process and command line as recorded in each export."""
    info = read_sqlite(shared_file(f"sqlite/{name}")).info
    for field, expected in RUN_FACTS[name].items():
        assert getattr(info, field) == expected, field
    assert info.notes == []


def _merged_length(intervals: list[tuple[int, int]]) -> int:
    total, reach = 0, None
    for start, end in sorted(intervals):
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


@pytest.mark.parametrize("path", REAL_EXPORTS, ids=lambda p: p.name)
def test_span_and_busy_time_match_a_row_by_row_computation(path: Path):
    """Span (first start to last end of CUDA rows) and busy time (merged GPU intervals)."""
    info = read_sqlite(path).info
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    rows: dict[str, list[tuple[int, int]]] = {}
    for kind in ("RUNTIME", "KERNEL", "MEMCPY", "MEMSET"):
        table = f"CUPTI_ACTIVITY_KIND_{kind}"
        if table in tables:
            rows[kind] = con.execute(f"SELECT start, end FROM {table}").fetchall()
    con.close()
    everything = [iv for ivs in rows.values() for iv in ivs]
    gpu = [iv for kind, ivs in rows.items() if kind != "RUNTIME" for iv in ivs]
    expected_span = (
        max(e for _, e in everything) - min(s for s, _ in everything) if everything else None
    )
    assert info.span_ns == expected_span
    expected_busy = _merged_length(gpu) if any(k != "RUNTIME" for k in rows) else None
    assert info.gpu_busy_ns == expected_busy


def test_real_kernel_variants_by_base_name():
    """GindaChen (2026.2.1): grouping by base name merges template instances, as :base does."""
    run = read_sqlite(shared_file("sqlite/GindaChen__nsys-ai__mfu_2gpu_before.sqlite"))
    default = run.summaries[reports.KERNELS]
    base = run.kernels(KernelNaming.BASE)
    assert base["total_ns"].sum() == default["total_ns"].sum()
    assert base["count"].sum() == default["count"].sum() == 4010
    per_base = default.groupby("base_name")[["total_ns", "count"]].sum()
    merged = base.set_index("name")[["total_ns", "count"]]
    pd.testing.assert_frame_equal(merged.sort_index(), per_base.sort_index(), check_names=False)
