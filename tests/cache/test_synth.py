"""The synthetic seed-scale export: real nsys schema, the seed's names, counts and timeline."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from llamaprof.sources import load_report

from shared_data import SEED_TEXT, shared_file
from synth import SEED_API, SEED_KERNELS, seed_counts, write_seed_scale_export

SCALE = 0.01


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1 % seed-scale export, written once for the module."""
    path = tmp_path_factory.mktemp("synth") / "seed-1pct.sqlite"
    write_seed_scale_export(path, scale=SCALE)
    return path


def _columns(path: Path, table: str) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return [row[1:] for row in con.execute(f"PRAGMA table_info({table})")]
    finally:
        con.close()


@pytest.mark.parametrize(
    ("table", "real"),
    [
        ("CUPTI_ACTIVITY_KIND_RUNTIME", "sqlite/0x822a5b87__test-cuda__report1.sqlite"),
        ("CUPTI_ACTIVITY_KIND_KERNEL", "sqlite/0x822a5b87__test-cuda__report1.sqlite"),
        ("CUPTI_ACTIVITY_KIND_MEMCPY", "sqlite/0x822a5b87__test-cuda__report1.sqlite"),
        ("CUPTI_ACTIVITY_KIND_MEMSET", "sqlite/frasertajima__WeatherBench2__report1.sqlite"),
        ("StringIds", "sqlite/0x822a5b87__test-cuda__report1.sqlite"),
        ("ENUM_CUDA_MEMCPY_OPER", "sqlite/0x822a5b87__test-cuda__report1.sqlite"),
        ("TARGET_INFO_GPU", "sqlite/0x822a5b87__test-cuda__report1.sqlite"),
        ("TARGET_INFO_SESSION_START_TIME", "sqlite/0x822a5b87__test-cuda__report1.sqlite"),
        ("PROCESSES", "sqlite/0x822a5b87__test-cuda__report1.sqlite"),
    ],
)
def test_tables_have_the_real_nsys_schema(export, table, real):
    """Column names, types, NOT NULL and keys equal those of a real nsys export."""
    assert _columns(export, table) == _columns(shared_file(real), table)


def test_row_counts_follow_the_seed(export):
    """Each table holds the seed's counts times the scale."""
    con = sqlite3.connect(export)
    counts = {
        key: con.execute(f"SELECT count(*) FROM CUPTI_ACTIVITY_KIND_{key.upper()}").fetchone()[0]
        for key in ("runtime", "kernel", "memcpy", "memset")
    }
    con.close()
    assert counts == seed_counts(SCALE)
    assert seed_counts(1) == {"runtime": 1076916, "kernel": 1055205, "memcpy": 6810, "memset": 6}


def test_kernel_names_print_as_in_the_seed():
    """Cut to 99 characters + '…' as nsys prints them, every kernel name is in the seed's text."""
    if not SEED_TEXT.exists():
        pytest.skip("seed text not available")
    text = SEED_TEXT.read_text()
    for kernel in SEED_KERNELS:
        name = kernel.demangled
        printed = name if len(name) <= 100 else name[:99] + "…"
        assert f"  {printed}" in text, printed


def test_summaries_read_back_with_the_seeds_names_counts_and_extremes(export):
    """load_report gives the seed's calls per API name and exact min/max where n >= 2."""
    run = load_report(export)
    api = run.summaries["cuda_api_sum"].set_index("name")
    launch = api.loc["cudaLaunchKernel"]
    assert (launch["count"], launch["min_ns"], launch["max_ns"]) == (10551, 1399, 21880618)
    for raw, count, _avg, _med, low, high in SEED_API:
        name = raw[:-6] if raw[-6:-4] == "_v" else raw
        assert api.loc[name, "count"] == max(1, round(count * SCALE))
        if api.loc[name, "count"] >= 2:
            assert (api.loc[name, "min_ns"], api.loc[name, "max_ns"]) == (low, high)
    kernels = run.summaries["cuda_gpu_kern_sum"].set_index("name")
    for kernel in SEED_KERNELS:
        row = kernels.loc[kernel.demangled]
        assert row["count"] == max(1, round(kernel.instances * SCALE))
        assert row["base_name"] == kernel.base
        assert row["mangled_name"] == kernel.mangled
    mem = run.summaries["cuda_gpu_mem_time_sum"].set_index("op")
    assert mem["count"].to_dict() == {"HtoD": 57, "DtoH": 11, "memset": 1}
    assert run.info.process_name == "llama-server"
    assert run.info.gpus == ["Quadro RTX 6000"]


def test_gpu_work_runs_after_the_call_that_issued_it(export):
    """Every kernel, memcpy and memset starts after its API call; kernels never overlap."""
    con = sqlite3.connect(export)
    for table in ("KERNEL", "MEMCPY", "MEMSET"):
        (early,) = con.execute(
            f"SELECT count(*) FROM CUPTI_ACTIVITY_KIND_{table} g "
            "JOIN CUPTI_ACTIVITY_KIND_RUNTIME r USING (correlationId) WHERE g.start < r.start"
        ).fetchone()
        (orphans,) = con.execute(
            f"SELECT count(*) FROM CUPTI_ACTIVITY_KIND_{table} WHERE correlationId NOT IN "
            "(SELECT correlationId FROM CUPTI_ACTIVITY_KIND_RUNTIME)"
        ).fetchone()
        assert (table, early, orphans) == (table, 0, 0)
    (overlaps,) = con.execute(
        "SELECT count(*) FROM (SELECT start, lag(end) OVER (ORDER BY start) AS prev_end "
        "FROM CUPTI_ACTIVITY_KIND_KERNEL) WHERE start < prev_end"
    ).fetchone()
    con.close()
    assert overlaps == 0


def test_same_seed_writes_the_same_content(tmp_path):
    """Two exports with the same seed hold identical rows."""
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    write_seed_scale_export(a, scale=0.001, seed=7)
    write_seed_scale_export(b, scale=0.001, seed=7)
    query = "SELECT * FROM CUPTI_ACTIVITY_KIND_KERNEL ORDER BY rowid"
    rows = [sqlite3.connect(p).execute(query).fetchall() for p in (a, b)]
    assert rows[0] == rows[1]
    assert len(rows[0]) == seed_counts(0.001)["kernel"] == 1062
