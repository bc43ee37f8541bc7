"""`llamaprof stats --window/--nvtx` and `llamaprof phases`: stdout, stderr, exit status."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from nsys_builder import ExportBuilder, TimedRequest, record_json
from serving.scenarios import around_window, inside_window, sequential

from llamaprof.cli import main

from shared_data import SEED_TEXT


def invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("fmt", ["column", "csv", "json"])
def test_stats_window_prints_what_nsys_prints_for_those_events(write_export, fmt):
    """`stats --window A:B` prints byte for byte what `stats` prints for an export holding
    only the events starting in [A, B); JSON names the window first."""
    around = write_export(around_window(), "around")
    inside = write_export(inside_window(), "inside")
    windowed = invoke("stats", around, "--window", "1800ns:3000ns", "--format", fmt)
    alone = invoke("stats", inside, "--format", fmt)
    assert windowed.exit_code == alone.exit_code == 0
    if fmt == "json":
        data = json.loads(windowed.stdout)
        assert next(iter(data)) == "window"
        assert data.pop("window") == {"name": "1800ns:3000ns", "start_ns": 1800, "end_ns": 3000}
        assert data == json.loads(alone.stdout)
    else:
        assert windowed.stdout == alone.stdout
    assert windowed.stderr == (
        "llamaprof: note: around.sqlite: window 1800ns:3000ns: from 1.80 µs to 3.00 µs\n"
    )


def test_stats_decode_window_from_the_record(write_export):
    """A named window comes from the record beside the report; several intervals are named."""
    builder, record = sequential()
    path = write_export(builder, record=record)
    result = invoke("stats", path, "--window", "decode", "--format", "json", "-r", "gpukernsum")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["window"] == {
        "name": "decode",
        "start_ns": 1_100,
        "end_ns": 2_400,
        "intervals": [[1_100, 1_500], [2_050, 2_400]],
    }
    assert [(r["Instances"], r["Total Time (ns)"]) for r in data["cuda_gpu_kern_sum"]] == [(4, 400)]
    assert result.stderr == (
        "llamaprof: note: run.sqlite: window decode: 2 intervals from 1.10 µs to 2.40 µs, "
        "750 ns in all\n"
    )


def test_stats_window_refusals(write_export, tmp_path):
    """Text input, a phase the run lacks, an NVTX name it has no range of: one line, exit 1;
    a malformed window: usage error, exit 2."""
    text = tmp_path / "seed.txt"
    text.write_bytes(SEED_TEXT.read_bytes())
    refused = invoke("stats", text, "--window", "load")
    assert (refused.exit_code, refused.stdout) == (1, "")
    assert refused.stderr == (
        "llamaprof: seed.txt is `nsys stats` output, which has no event times: --window and "
        "--nvtx need the SQLite export or the .nsys-rep\n"
    )
    bare = write_export(around_window(), "bare")
    no_phase = invoke("stats", bare, "--window", "prefill")
    assert no_phase.exit_code == 1
    assert no_phase.stderr.startswith("llamaprof: bare.sqlite has no prefill times: phases come")
    assert no_phase.stderr.count("\n") == 1
    no_nvtx = invoke("stats", bare, "--nvtx", "step")
    assert no_nvtx.exit_code == 1
    assert no_nvtx.stderr == (
        "llamaprof: bare.sqlite holds no NVTX ranges (no NVTX_EVENTS table: capture with "
        "--trace=cuda,nvtx and ranges in the program)\n"
    )
    malformed = invoke("stats", bare, "--window", "5s:1s")
    assert malformed.exit_code == 2
    assert "Invalid value for '--window': empty window '5s:1s'" in malformed.stderr


def test_stats_nvtx_and_window(write_export):
    """--nvtx keeps the events launched inside ranges of the name, --window those starting in
    it; together, both."""
    b = ExportBuilder()
    b.nvtx("step", 100, 500)
    b.nvtx("step", 1000, 1400)
    b.launch("void a<float>(float *)", 120, 130, 140, 200)
    b.launch("void b<float>(float *)", 600, 610, 620, 700)  # outside the ranges
    b.launch("void a<float>(float *)", 1100, 1110, 1120, 1300)
    path = write_export(b)
    both = invoke(
        "stats",
        path,
        "--nvtx",
        "step",
        "--window",
        "1000ns:",
        "-r",
        "cuda_gpu_kern_sum",
        "-f",
        "csv",
    )
    assert both.exit_code == 0
    assert both.stdout.splitlines()[1:] == [
        "100.0,180,1,180.0,180.0,180,180,0.0,void a<float>(float *)",
    ]
    nvtx_only = invoke("stats", path, "--nvtx", "step", "-r", "cuda_gpu_kern_sum", "-f", "csv")
    assert nvtx_only.stdout.splitlines()[1:] == [
        "100.0,240,2,120.0,120.0,60,180,84.9,void a<float>(float *)",
    ]
    assert nvtx_only.stderr == (
        "llamaprof: note: run.sqlite: window all: the whole capture; inside NVTX ranges 'step'\n"
    )


def test_phases_from_the_record(write_export):
    """`phases` lists the record's phases: column (ms), CSV (ns) and JSON."""
    builder, record = sequential()
    path = write_export(builder, record=record)
    column = invoke("phases", path)
    assert column.exit_code == 0
    assert column.stdout.splitlines()[:4] == [
        " Phase      Start (ms)  End (ms)  Duration (ms)  Source",
        " ---------  ----------  --------  -------------  ------",
        " load            0.000     0.001          0.001  record",
        " workload        0.001     0.002          0.001  record",
    ]
    csv = invoke("phases", path, "--format", "csv")
    assert csv.stdout.splitlines() == [
        "name,start_ns,end_ns,duration_ns,source",
        "load,0,1000,1000,record",
        "workload,1000,2400,1400,record",
        "request 1,1000,1500,500,record",
        "prefill 1,1000,1100,100,record",
        "decode 1,1100,1500,400,record",
        "request 2,2000,2400,400,record",
        "prefill 2,2000,2050,50,record",
        "decode 2,2050,2400,350,record",
    ]
    data = json.loads(invoke("phases", path, "--format", "json").stdout)
    assert data["notes"] == []
    assert data["phases"][1] == {
        "name": "workload",
        "start_ns": 1000,
        "end_ns": 2400,
        "source": "record",
    }
    assert [p["name"] for p in data["phases"]] == [
        line.split(",")[0] for line in csv.stdout.splitlines()[1:]
    ]


def test_phases_detected_then_capped_nvtx_ranges(write_export):
    """Without a record the phases are detected; top-level NVTX ranges follow, the first 50,
    with a note saying how many more there are (nested ranges are not listed)."""
    b = ExportBuilder()
    b.memcpy(10, 20, 64, "HtoD")
    b.kernel("void k<float>(float *)", 100, 200)
    for i in range(53):
        b.nvtx(f"iteration {i}", 1000 + 10 * i, 1005 + 10 * i)
        b.nvtx("inner", 1001 + 10 * i, 1002 + 10 * i)
    b.nvtx("open", 5000, None)
    result = invoke("phases", write_export(b), "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [(p["name"], p["source"]) for p in data["phases"][:4]] == [
        ("load", "detected"),
        ("workload", "detected"),
        ("burst 1", "detected"),
        ("iteration 0", "nvtx"),
    ]
    assert len(data["phases"]) == 3 + 50
    assert data["phases"][-1] == {
        "name": "iteration 49",
        "start_ns": 1490,
        "end_ns": 1495,
        "source": "nvtx",
    }
    notes = [
        "3 more top-level NVTX ranges not listed (the first 50 of 53; 106 ranges in all); "
        "`llamaprof stats --nvtx NAME` selects events by range name",
        "1 NVTX ranges never closed were left out",
    ]
    assert data["notes"] == notes
    assert result.stderr == "".join(f"llamaprof: note: run.sqlite: {n}\n" for n in notes)


def test_phases_refusals_and_broken_record(write_export, tmp_path):
    """Text has no times (exit 1, one line); an export without GPU work or ranges has no
    phases (exit 1); a broken record is a warning and the phases are detected."""
    text = tmp_path / "seed.txt"
    text.write_bytes(SEED_TEXT.read_bytes())
    refused = invoke("phases", text)
    assert (refused.exit_code, refused.stdout) == (1, "")
    assert refused.stderr == (
        "llamaprof: seed.txt is `nsys stats` output, which has no event times: phases need the "
        "SQLite export or the .nsys-rep\n"
    )
    empty = ExportBuilder()
    empty.api("cudaFree_v3020", 0, 10)
    nothing = invoke("phases", write_export(empty, "empty"))
    assert (nothing.exit_code, nothing.stderr) == (
        1,
        "llamaprof: empty.sqlite has no phases: no GPU work, no capture record with request "
        "times and no NVTX ranges\n",
    )
    builder, _ = sequential()
    path = write_export(builder, "broken")
    (tmp_path / "broken.llamaprof.json").write_text("{not json", encoding="utf-8")
    broken = invoke("phases", path, "--format", "csv")
    assert broken.exit_code == 0
    assert broken.stderr.startswith(
        "llamaprof: warning: capture record ignored: broken.llamaprof.json: not a valid capture record"
    )
    assert broken.stdout.splitlines()[1] == "load,0,400,400,detected"


def test_record_without_first_tokens(write_export):
    """Requests not streamed have no prefill/decode split: the decode window says so."""
    builder, _ = sequential()
    record = record_json([TimedRequest(1000, None, 1500), TimedRequest(2000, None, 2400)])
    path = write_export(builder, record=record)
    result = invoke("stats", path, "--window", "decode")
    assert result.exit_code == 1
    assert result.stderr == (
        "llamaprof: run.sqlite has no decode times: its capture record has no first-token "
        "times (requests not streamed)\n"
    )


def test_timeline_command(write_export, tmp_path, monkeypatch):
    """`timeline` prints the bins as CSV or JSON; --window bins that window from its start;
    text input and a bad bin are refused."""
    builder, record = sequential()
    path = write_export(builder, record=record)
    csv = invoke("timeline", path, "--bin", "500ns")
    assert csv.exit_code == 0
    lines = csv.stdout.splitlines()
    assert lines[0].startswith(
        "bin_start_ns,bin_end_ns,gpu_busy_ns,gpu_busy_pct,kernel_ns,matmul_ns,"
    )
    assert [line.split(",")[:4] for line in lines[1:]] == [
        ["10", "510", "390", "78.0"],  # the upload [10, 400)
        ["510", "1010", "0", "0.0"],
        ["1010", "1510", "270", "54.0"],  # request 1: prefill 70 + two decode steps of 100
        ["1510", "2010", "0", "0.0"],
        ["2010", "2510", "220", "44.0"],  # request 2: prefill 20 + 100 + 100
    ]
    data = json.loads(
        invoke("timeline", path, "--bin", "1us", "--window", "decode", "-f", "json").stdout
    )
    assert data["bin_ns"] == 1000
    assert data["window"]["name"] == "decode"
    assert [(b["bin_start_ns"], b["gpu_busy_ns"], b["other_ns"]) for b in data["bins"]] == [
        (1100, 250, 250),  # decode 1 (200), and request 2's prefill [2020, 2040) + [2070, 2100)
        (2100, 170, 170),
    ]
    text = tmp_path / "seed.txt"
    text.write_bytes(SEED_TEXT.read_bytes())
    refused = invoke("timeline", text)
    assert (refused.exit_code, refused.stderr) == (
        1,
        "llamaprof: seed.txt is `nsys stats` output, which has no event times: a timeline "
        "needs the SQLite export or the .nsys-rep\n",
    )
    assert invoke("timeline", path, "--bin", "0ms").exit_code == 2
    # a typed window is cut to the capture: its events span [10, 2290) ns
    typed = json.loads(
        invoke("timeline", path, "--bin", "1us", "--window", "0:10s", "-f", "json").stdout
    )
    assert (typed["window"]["start_ns"], typed["window"]["end_ns"]) == (10, 2290)
    monkeypatch.setattr("llamaprof.analyze.timeline.MAX_BINS", 1000)
    too_many = invoke("timeline", path, "--bin", "1ns")
    assert too_many.exit_code == 1
    assert too_many.stderr.endswith(
        "run.sqlite: 2,280 bins of 1 ns: more than 1,000; use a longer bin\n"
    )
