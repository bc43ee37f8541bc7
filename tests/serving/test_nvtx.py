"""NVTX ranges: top-level ranges listed, and the events inside ranges of one name."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
from nsys_builder import GLOBAL_PID, GLOBAL_TID, ExportBuilder

from llamaprof import reports
from llamaprof.analyze.windows import WHOLE, apply_window, parse_window, resolve_window
from llamaprof.errors import WindowError
from llamaprof.sources import load_report
from llamaprof.sources.nvtx import nvtx_masks, read_nvtx_ranges, top_level_ranges

from conftest import shared_file

OTHER_TID = GLOBAL_TID + 1  # a second thread of the same process
OTHER_PID = GLOBAL_PID + (1 << 24)  # another process
K1, K2, K3 = (f"void k{i}<float>(float *)" for i in (1, 2, 3))


def _traced() -> ExportBuilder:
    """Ranges named "step" on two threads (one nested range, one never closed) and calls
    inside, outside, on the wrong thread, at a range's end and in another process."""
    b = ExportBuilder()
    b.nvtx("step", 100, 500)
    b.nvtx("fwd", 150, 300)  # nested in the first step
    b.nvtx("step", 1000, 1400, registered=True)  # its name in StringIds
    b.nvtx("step", 2000, 2500, tid=OTHER_TID, push_pop=False)  # a start/end range
    b.nvtx("step", 3000, None)  # never closed: left out
    b.launch(K1, 99, 110, 115, 130)  # starts before the range
    b.launch(K1, 120, 140, 600, 700)  # inside; its kernel runs after the range: still in
    b.memcpy(210, 260, 4096, "HtoD", correlation=b.api("cudaMemcpyAsync_v3020", 200, 205))
    b.launch(K2, 200, 230, 240, 250, tid=OTHER_TID)  # inside the time, on another thread
    b.launch(K2, 500, 510, 520, 530)  # at the range's end: outside
    b.memset(1250, 1260, 64, correlation=b.api("cudaMemsetAsync_v3020", 1200, 1210))
    corr = b.launch(K3, 2100, 2110, 2120, 2200, tid=OTHER_TID)  # inside the start/end range
    b.kernel(K3, 2300, 2310, correlation=corr - 1, pid=OTHER_PID)  # same id, other process
    b.launch(K1, 3100, 3110, 3120, 3130)  # inside the unclosed range
    return b


def test_events_inside_ranges_of_a_name(write_export):
    """API calls starting in a range of the name on their own thread; GPU work launched by
    them (same correlationId and process), whenever it ran."""
    path = write_export(_traced())
    run = load_report(path)
    mask = nvtx_masks(path, "step", run.events)
    inside = apply_window(run, replace(WHOLE, nvtx="step"), mask=mask)
    api = inside.summary(reports.API)
    assert api[["name", "count"]].values.tolist() == [
        ["cudaLaunchKernel", 2],  # @120 and @2100
        ["cudaMemsetAsync", 1],  # 10 ns
        ["cudaMemcpyAsync", 1],  # 5 ns
    ]
    kernels = inside.summary(reports.KERNELS)
    assert kernels[["name", "total_ns", "count"]].values.tolist() == [[K1, 100, 1], [K3, 80, 1]]
    sizes = inside.summary(reports.MEM_SIZE)
    assert sizes[["op", "total_bytes"]].values.tolist() == [["HtoD", 4096], ["memset", 64]]
    assert inside.window.to_dict() == {
        "name": "all",
        "start_ns": None,
        "end_ns": None,
        "nvtx": "step",
    }
    # GPU busy covers the GPU work kept: 100 + 50 + 10 + 80
    assert inside.info.gpu_busy_ns == 240


def test_window_and_nvtx_combine(write_export):
    """With both, an event must start in the window and lie inside a range of the name."""
    path = write_export(_traced())
    run = load_report(path)
    window = resolve_window(parse_window("0:1000ns"), [])
    both = apply_window(
        run, replace(window, nvtx="step"), mask=nvtx_masks(path, "step", run.events)
    )
    assert both.summary(reports.API)[["name", "count"]].values.tolist() == [
        ["cudaLaunchKernel", 1],
        ["cudaMemcpyAsync", 1],
    ]
    assert both.summary(reports.KERNELS)["name"].tolist() == [K1]
    assert both.summary(reports.MEM_TIME)["op"].tolist() == ["HtoD"]


def test_nested_range_names_select_their_own_calls(write_export):
    """A nested range selects what starts inside it: the memcpy call at 200 in "fwd"."""
    path = write_export(_traced())
    run = load_report(path)
    fwd = apply_window(run, WHOLE, mask=nvtx_masks(path, "fwd", run.events))
    assert fwd.summary(reports.API)["name"].tolist() == ["cudaMemcpyAsync"]
    assert fwd.summary(reports.KERNELS).empty


def test_ranges_read_and_top_level(write_export):
    """Ranges in start order with their names from text or StringIds; unclosed ones counted."""
    path = write_export(_traced())
    ranges = read_nvtx_ranges(path)
    assert ranges.unclosed == 1
    assert ranges.frame.values.tolist() == [
        [100, 500, "step", GLOBAL_TID],
        [150, 300, "fwd", GLOBAL_TID],
        [1000, 1400, "step", GLOBAL_TID],
        [2000, 2500, "step", OTHER_TID],
    ]
    top = top_level_ranges(ranges.frame)
    assert top[["start_ns", "name"]].values.tolist() == [
        [100, "step"],
        [1000, "step"],
        [2000, "step"],
    ]


def test_unknown_name_and_missing_table_say_why(write_export):
    """A name with no range lists the top-level names there; no NVTX table says so."""
    path = write_export(_traced())
    run = load_report(path)
    with pytest.raises(WindowError) as unknown:
        nvtx_masks(path, "decode", run.events)
    assert str(unknown.value) == (
        "run.sqlite has no NVTX range named 'decode'; top-level ranges there: 'step'"
    )
    bare = ExportBuilder()
    bare.launch(K1, 0, 10, 20, 30)
    bare_path = write_export(bare, "bare")
    with pytest.raises(WindowError) as missing:
        nvtx_masks(bare_path, "step", load_report(bare_path).events)
    assert str(missing.value) == (
        "bare.sqlite holds no NVTX ranges (no NVTX_EVENTS table: capture with "
        "--trace=cuda,nvtx and ranges in the program)"
    )


def test_changed_export_is_refused(write_export):
    """Masks read from an export whose rows differ from the run's events are refused."""
    path = write_export(_traced())
    run = load_report(path)
    fewer = replace(run.events, api=run.events.api.iloc[:1])
    with pytest.raises(WindowError, match="no longer match the run read earlier"):
        nvtx_masks(path, "step", fewer)


def test_nsys_rep_reads_ranges_from_its_export(write_export, tmp_path):
    """A .nsys-rep is read through the export made beside it; --nvtx and phases read the
    ranges from that export (nsys is never run again)."""
    from click.testing import CliRunner

    from llamaprof.cli import main
    from llamaprof.sources.nvtx import export_of

    report = tmp_path / "run.nsys-rep"
    report.write_bytes(b"NVIDIA Tegra Profiler Report 2026@1@1@204" + b"\0" * 64)
    export = write_export(_traced())  # newer than the report: reused as its export
    run = load_report(report)
    assert (run.path, export_of(run)) == (report, export)
    result = CliRunner().invoke(
        main, ["stats", str(report), "--nvtx", "step", "-r", "cuda_api_sum", "-f", "csv"]
    )
    assert result.exit_code == 0
    assert [line.split(",")[2] for line in result.stdout.splitlines()[1:]] == ["2", "1", "1"]
    phases = CliRunner().invoke(main, ["phases", str(report), "-f", "csv"])
    assert phases.stdout.splitlines()[-3:] == [
        "step,100,500,400,nvtx",
        "step,1000,1400,400,nvtx",
        "step,2000,2500,500,nvtx",
    ]


#: Kernels launched by a call starting inside a range of the name on its own thread, by SQL.
_REFERENCE = """
SELECT count(*), coalesce(sum(k."end" - k.start), 0) FROM CUPTI_ACTIVITY_KIND_KERNEL k
JOIN CUPTI_ACTIVITY_KIND_RUNTIME r ON r.correlationId = k.correlationId
WHERE EXISTS (SELECT 1 FROM NVTX_EVENTS e WHERE e.text = ? AND e.globalTid = r.globalTid
              AND r.start >= e.start AND r.start < e."end")
"""


def test_real_export_matches_an_sql_reference(tmp_path):
    """A real PyTorch export (271 push/pop ranges): per range name, the kernels ``--nvtx``
    keeps are those an SQL join of calls to ranges finds; the memcpys launched inside
    ``kv_h2d_transfer`` move 16 x 128 KiB host to device."""
    import sqlite3

    name = "Sh1mwww__llama3-inference__demo.sqlite"
    path = tmp_path / name
    shutil.copy(shared_file(f"sqlite/{name}"), path)
    ranges = read_nvtx_ranges(path)
    assert (len(ranges.frame), ranges.unclosed) == (271, 0)
    run = load_report(path)
    con = sqlite3.connect(path)
    checked = 0
    for range_name in sorted(set(ranges.frame["name"])):
        inside = apply_window(run, WHOLE, mask=nvtx_masks(path, range_name, run.events))
        kernels = inside.summary(reports.KERNELS)
        expected = con.execute(_REFERENCE, (range_name,)).fetchone()
        assert (int(kernels["count"].sum()), int(kernels["total_ns"].sum())) == expected
        checked += expected[0] > 0
    con.close()
    assert checked == 28  # names whose ranges launched kernels
    inside = apply_window(run, WHOLE, mask=nvtx_masks(path, "kv_h2d_transfer", run.events))
    sizes = inside.summary(reports.MEM_SIZE)
    assert sizes[["op", "total_bytes", "count"]].values.tolist() == [["HtoD", 16 * 131072, 16]]
    attention = apply_window(run, WHOLE, mask=nvtx_masks(path, "attention_simulation", run.events))
    assert attention.summary(reports.KERNELS)[["count", "total_ns"]].sum().tolist() == [
        16,
        21_124_029,
    ]
