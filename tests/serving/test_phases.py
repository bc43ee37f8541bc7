"""Phases of a capture: from the capture record, or detected from the GPU work."""

from __future__ import annotations

from nsys_builder import ExportBuilder, TimedRequest, record_json

from llamaprof.analyze.phases import (
    Phase,
    decode_intervals,
    detected_phases,
    phases_of,
    prefill_intervals,
    record_phases,
)
from llamaprof.analyze.windows import apply_window, parse_window, window_for
from llamaprof.record import parse_record, read_record
from llamaprof.sources import load_report

KERNEL = "void k<float>(float *)"
MS = 1_000_000


def _phase(kind: str, number: int, start: int, end: int) -> Phase:
    return Phase(f"{kind} {number}", start, end, "record", kind, number)


def test_concurrent_prefill_and_decode_intervals():
    """With overlapping requests, prefill is every moment some request awaits its first token,
    decode every moment requests generate and none awaits its first token."""
    phases = [
        _phase("prefill", 1, 0, 100),
        _phase("decode", 1, 100, 1000),
        _phase("prefill", 2, 50, 300),
        _phase("decode", 2, 300, 800),
        _phase("prefill", 3, 900, 950),
        _phase("decode", 3, 950, 1200),
    ]
    assert prefill_intervals(phases) == [(0, 300), (900, 950)]
    assert decode_intervals(phases) == [(300, 900), (950, 1200)]


def test_decode_minus_prefill_splits_and_drops_pieces():
    """A prefill inside a decode stretch splits it; one covering a decode stretch removes it;
    touching intervals leave no empty pieces."""
    phases = [
        _phase("decode", 1, 0, 1000),
        _phase("prefill", 2, 200, 300),
        _phase("prefill", 3, 600, 700),
        _phase("decode", 4, 2000, 2100),
        _phase("prefill", 5, 1990, 2200),
        _phase("decode", 6, 3000, 3100),
        _phase("prefill", 7, 2900, 3000),
        _phase("prefill", 8, 3100, 3200),
    ]
    assert decode_intervals(phases) == [(0, 200), (300, 600), (700, 1000), (3000, 3100)]
    assert decode_intervals([]) == []


def test_record_phases_of_concurrent_requests(tmp_path):
    """Requests are numbered in start order whatever order the record lists them in."""
    record = parse_record(
        record_json(
            [
                TimedRequest(50, 300, 800),
                TimedRequest(0, 100, 1000),
                TimedRequest(900, None, 1200),  # not streamed: no prefill/decode split
            ],
            concurrency=2,
        ),
        tmp_path / "run.llamaprof.json",
    )
    b = ExportBuilder()
    b.kernel(KERNEL, 10, 20)
    events = load_report(b.write(tmp_path / "run.sqlite")).events
    names = [(p.name, p.start_ns, p.end_ns) for p in record_phases(events, record)]
    assert names == [
        ("load", 0, 0),
        ("workload", 0, 1200),
        ("request 1", 0, 1000),
        ("prefill 1", 0, 100),
        ("decode 1", 100, 1000),
        ("request 2", 50, 800),
        ("prefill 2", 50, 300),
        ("decode 2", 300, 800),
        ("request 3", 900, 1200),
    ]


def _served() -> ExportBuilder:
    """An upload of weights, a warm-up kernel, then two bursts of kernels 0.5 s apart."""
    b = ExportBuilder()
    b.memcpy(10 * MS, 30 * MS, 1 << 30, "HtoD")
    b.memcpy(31 * MS, 40 * MS, 1 << 29, "HtoD")
    b.kernel(KERNEL, 50 * MS, 51 * MS)  # warm-up
    b.memcpy(52 * MS, 53 * MS, 4096, "HtoD")  # after the first kernel: not the upload
    for t in (1000, 1001, 1003, 1500, 1502):
        b.kernel(KERNEL, t * MS, t * MS + 500_000)
    return b


def test_detected_phases(write_export):
    """Without a record: load is the leading host-to-device copies, workload the GPU work after
    it, bursts (of the workload, not the upload) are separated by more than 100 ms of idle
    GPU."""
    run = load_report(write_export(_served()))
    phases = [(p.name, p.start_ns, p.end_ns, p.source) for p in detected_phases(run.events)]
    assert phases == [
        ("load", 0, 40 * MS, "detected"),
        ("workload", 40 * MS, 1502 * MS + 500_000, "detected"),
        ("burst 1", 50 * MS, 53 * MS, "detected"),  # the warm-up: after the upload
        ("burst 2", 1000 * MS, 1003 * MS + 500_000, "detected"),
        ("burst 3", 1500 * MS, 1502 * MS + 500_000, "detected"),
    ]
    assert phases_of(run.events, None) == detected_phases(run.events)


def test_detected_bursts_are_capped(write_export, monkeypatch):
    """Past MAX_BURSTS the last burst listed runs to the end of the GPU work."""
    from llamaprof.analyze import phases as module

    b = ExportBuilder()
    for i in range(5):
        b.kernel(KERNEL, i * 200 * MS, i * 200 * MS + 10)
    run = load_report(write_export(b))
    monkeypatch.setattr(module, "MAX_BURSTS", 3)
    bursts = [p for p in detected_phases(run.events) if p.kind == "burst"]
    assert [(p.name, p.start_ns, p.end_ns) for p in bursts] == [
        ("burst 1", 0, 10),
        ("burst 2", 200 * MS, 200 * MS + 10),
        ("burst 3", 400 * MS, 800 * MS + 10),
    ]


def test_record_beats_detection_and_schema_one_falls_back(write_export, tmp_path):
    """A record with wall-clock times gives the phases; a schema-1 record (perf_counter
    offsets) or an export without a session start falls back to detection."""
    record = record_json([TimedRequest(1000 * MS, 1001 * MS, 1004 * MS)])
    path = write_export(_served(), record=record)
    run = load_report(path)
    assert [p.source for p in phases_of(run.events, read_record(path))] == ["record"] * 5
    old = dict(record, schema=1)
    for request in old["requests"]:
        request.pop("start_ns"), request.pop("end_ns")
    schema_one = parse_record(old, tmp_path / "old.llamaprof.json")
    assert {p.source for p in phases_of(run.events, schema_one)} == {"detected"}
    no_start = _served()
    no_start.session_start_utc_ns = None
    bare = load_report(write_export(no_start, "bare"))
    assert {p.source for p in phases_of(bare.events, read_record(path))} == {"detected"}


def test_load_window_from_detection_holds_the_upload(write_export):
    """``--window load`` without a record: the two leading copies, 1.5 GiB."""
    run = load_report(write_export(_served()))
    load = apply_window(run, window_for(run, None, parse_window("load")))
    assert load.summary("cuda_gpu_mem_size_sum")["total_bytes"].tolist() == [(1 << 30) + (1 << 29)]
    assert load.summary("cuda_gpu_kern_sum").empty


def test_load_ends_when_the_server_is_ready(write_export):
    """With ``clock.server_ready_ns`` the load phase stops at readiness, not at the first
    request (the idle time between them is neither load nor workload)."""
    record = record_json([TimedRequest(1000 * MS, 1001 * MS, 1004 * MS)], server_ready=45 * MS)
    path = write_export(_served(), record=record)
    run = load_report(path)
    phases = phases_of(run.events, read_record(path))
    assert [(p.name, p.start_ns, p.end_ns) for p in phases[:2]] == [
        ("load", 0, 45 * MS),
        ("workload", 1000 * MS, 1004 * MS),
    ]
