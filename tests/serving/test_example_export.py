"""The generated llama-server capture shipped in reports/: what the script writes, and readable
as a capture with start-up and serving apart."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import make_example_export as make  # scripts/ is on pytest's path
import pytest

from llamaprof import reports
from llamaprof.analyze.phases import phases_of
from llamaprof.analyze.serving import serving_findings
from llamaprof.analyze.timeline import timeline
from llamaprof.analyze.windows import apply_window, parse_window, window_for
from llamaprof.record import read_record
from llamaprof.sources import load_report

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "reports" / "serving-timeline-generated.sqlite"
RECORD = ROOT / "reports" / "serving-timeline-generated.llamaprof.json"
NOFA = ROOT / "reports" / "serving-timeline-generated-nofa.sqlite"
NOFA_RECORD = ROOT / "reports" / "serving-timeline-generated-nofa.llamaprof.json"


def _content(path: Path) -> dict[str, object]:
    """Every table's schema and rows, in rowid order (the bytes of an SQLite file also carry
    the writing library's version, so files are compared by content)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ).fetchall()
        return {
            name: (sql, con.execute(f'SELECT * FROM "{name}" ORDER BY rowid').fetchall())
            for name, sql in tables
        }
    finally:
        con.close()


@pytest.mark.parametrize("fa", [True, False], ids=["fa-on", "fa-off"])
def test_shipped_files_are_what_the_script_writes(tmp_path, fa):
    """Regenerated into a temporary folder, each export holds the same tables and rows and
    each record the same bytes; all say they are generated; the exports stay small."""
    shipped = SHIPPED if fa else NOFA
    shipped_record = RECORD if fa else NOFA_RECORD
    export, record = make.write(tmp_path, fa)
    assert _content(shipped) == _content(export)
    assert shipped_record.read_bytes() == record.read_bytes()
    assert "generated" in shipped.name and "generated" in shipped_record.name
    assert shipped.stat().st_size < 500_000
    meta = dict(_content(shipped)["META_DATA_EXPORT"][1])
    assert meta["SYNTHETIC_BY"] == "scripts/make_example_export.py (generated, not measured)"
    data = json.loads(shipped_record.read_text())
    assert data["generated"].startswith("scripts/make_example_export.py")


def test_the_two_examples_are_one_ab_set():
    """The shipped exports are the two configs of one set: the folder's newest set, labelled
    by what differs (-fa on / -fa off), so the app opens on them, config against config."""
    from llamaprof.analyze.configs import newest_set, settings_labels

    records = {path.name: read_record(path) for path in (SHIPPED, NOFA)}
    assert newest_set(records) == [SHIPPED.name, NOFA.name]
    labels = settings_labels({name: rec for name, rec in records.items()})
    assert labels == {SHIPPED.name: "-fa on", NOFA.name: "-fa off"}


def test_example_reads_as_a_capture_with_phases(tmp_path):
    """The example's record gives load, workload and 4 requests; start-up holds the 2.2 GB
    upload, decode the graph-launched steps, and the timeline shows both."""
    run = load_report(SHIPPED)
    record = read_record(SHIPPED)
    phases = phases_of(run.events, record)
    assert [(p.name, p.start_ns, p.source) for p in phases[:3]] == [
        ("load", 0, "record"),
        ("workload", 1_300_000_000, "record"),
        ("request 1", 1_300_000_000, "record"),
    ]
    assert phases[0].end_ns == 1_250_000_000
    assert sum(p.kind == "request" for p in phases) == 4
    load = apply_window(run, window_for(run, record, parse_window("load")))
    # the weights and the warm-up step's input token up, its logits back
    assert load.summary(reports.MEM_SIZE)["total_bytes"].tolist() == [2_200_000_004, 262_144]
    decode = apply_window(run, window_for(run, record, parse_window("decode")))
    api = decode.summary(reports.API).set_index("name")
    assert api.loc["cudaGraphLaunch_v10000", "count"] == 60  # 4 requests x 15 steps
    assert "cudaLaunchKernel" not in api.index  # prefill launches are not in decode
    assert decode.summary(reports.KERNELS)["count"].sum() == 60 * 68
    titles = [f.title for f in serving_findings(run, record)]
    assert titles[0] == "Start-up: 1.25 s, 2.20 GB uploaded to the GPU"
    assert "Decode: 68.0 kernels and 1.0 launch calls per token" in titles
    bins = timeline(run.events, bin_ns=10_000_000, origin_ns=phases[1].start_ns)
    serving = bins[(bins["bin_start_ns"] >= 1_300_000_000) & (bins["bin_end_ns"] <= 1_520_000_000)]
    assert serving["gpu_busy_pct"].min() > 50.0
    assert serving["matmul_ns"].sum() > serving["attention_ns"].sum() > 0
    startup = bins[bins["bin_end_ns"] <= 250_000_000]
    assert startup["gpu_busy_ns"].sum() == 0
