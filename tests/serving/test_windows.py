"""Time windows: summaries of the events starting in a window, exactly as nsys sums events."""

from __future__ import annotations

import pandas as pd
import pytest
from nsys_builder import ExportBuilder
from serving.scenarios import ALPHA, BETA, around_window, inside_window, sequential

from llamaprof import reports
from llamaprof.analyze.phases import phases_of
from llamaprof.analyze.windows import (
    WHOLE,
    apply_window,
    parse_window,
    resolve_window,
    window_for,
    window_tokens,
)
from llamaprof.errors import WindowError
from llamaprof.events import Window, in_intervals
from llamaprof.record import read_record
from llamaprof.sources import load_report


def test_window_summaries_are_those_of_the_events_starting_in_it(write_export):
    """A window's four summaries equal the summaries of an export holding only the events that
    start in it: an event starting before the window but running into it is not in it, one
    starting inside but ending after it is, whole."""
    run = load_report(write_export(around_window(), "around"))
    alone = load_report(write_export(inside_window(), "inside"))
    windowed = apply_window(run, resolve_window(parse_window("1800ns:3000ns"), []))
    for report in reports.REPORT_NAMES:
        pd.testing.assert_frame_equal(windowed.summary(report), alone.summary(report))
    api = windowed.summary(reports.API).set_index("name")
    assert api.loc["cudaLaunchKernel", ["total_ns", "count"]].tolist() == [130, 2]
    assert api.loc["cudaMemcpyAsync", ["total_ns", "count"]].tolist() == [10, 1]
    assert "cudaStreamSynchronize" not in api.index
    kernels = windowed.summary(reports.KERNELS)
    assert kernels[["name", "total_ns", "count"]].values.tolist() == [
        [ALPHA, 250, 1],
        [BETA, 10, 1],
    ]
    sizes = windowed.summary(reports.MEM_SIZE)
    assert sizes[["op", "total_bytes"]].values.tolist() == [["memset", 64], ["DtoH", 16]]
    # the whole run still has everything
    assert run.summary(reports.KERNELS)["count"].sum() == 5
    assert windowed.window.to_dict() == {
        "name": "1800ns:3000ns",
        "start_ns": 1800,
        "end_ns": 3000,
    }


def test_gpu_busy_counts_overlap_across_streams_and_devices_once(write_export):
    """GPU busy time is the union of kernels, memcpys and memsets over every stream and device;
    in a window it is the part of that union inside the window."""
    b = ExportBuilder()
    b.kernel(ALPHA, 1000, 1100, stream=7)
    b.kernel(BETA, 1050, 1150, stream=8)  # overlaps the first on another stream
    b.kernel(ALPHA, 1120, 1200, device=1)  # and another device
    b.memcpy(1300, 1400, 8, "HtoD")
    b.memset(1350, 1450, 8)  # overlaps the copy
    run = load_report(write_export(b))
    assert (run.info.gpu_busy_ns, run.info.span_ns) == (350, 450)
    one = apply_window(run, Window("a", ((1100, 1320),)))
    assert (one.info.gpu_busy_ns, one.info.span_ns) == (120, 220)
    two = apply_window(run, Window("b", ((1000, 1050), (1140, 1310))))
    assert (two.info.gpu_busy_ns, two.info.span_ns) == (50 + 60 + 10, 50 + 170)
    # open-ended windows are clipped to the capture: [1400, end) -> [1400, 1450)
    tail = apply_window(run, resolve_window(parse_window("1400ns:"), []))
    assert (tail.info.gpu_busy_ns, tail.info.span_ns) == (50, 50)


def test_typed_bounds_are_cut_to_the_capture(write_export):
    """A typed window reaching past the capture measures the capture: ``1400ns:100s`` spans
    [1400, 1450), not 100 s (GPU busy 50 of 50 ns, not 0.00005 %); one wholly outside it is
    refused in one line."""
    b = ExportBuilder()
    b.kernel(ALPHA, 1000, 1100)
    b.memset(1350, 1450, 8)
    run = load_report(write_export(b))
    window = window_for(run, None, parse_window("1400ns:100s"))
    assert window.intervals == ((1400, 1450),)
    tail = apply_window(run, window)
    assert (tail.info.gpu_busy_ns, tail.info.span_ns) == (50, 50)
    before = window_for(run, None, parse_window("0:1050ns"))
    assert before.intervals == ((1000, 1050),)
    with pytest.raises(WindowError) as outside:
        window_for(run, None, parse_window("2s:3s"))
    assert str(outside.value) == (
        "run.sqlite: the window 2s:3s lies outside the capture (1.00 µs to 1.45 µs on "
        "the nsys timeline)"
    )


def test_whole_window_is_the_run_itself(write_export):
    """``all`` changes nothing."""
    run = load_report(write_export(around_window()))
    assert apply_window(run, WHOLE) is run


def test_record_phases_name_load_workload_and_each_request(write_export):
    """Phases from a schema-2 record: request times minus the session start, in order."""
    b, record = sequential()
    path = write_export(b, record=record)
    run = load_report(path)
    phases = [p.to_dict() for p in phases_of(run.events, read_record(path))]
    assert [(p["name"], p["start_ns"], p["end_ns"], p["source"]) for p in phases] == [
        ("load", 0, 1_000, "record"),
        ("workload", 1_000, 2_400, "record"),
        ("request 1", 1_000, 1_500, "record"),
        ("prefill 1", 1_000, 1_100, "record"),
        ("decode 1", 1_100, 1_500, "record"),
        ("request 2", 2_000, 2_400, "record"),
        ("prefill 2", 2_000, 2_050, "record"),
        ("decode 2", 2_050, 2_400, "record"),
    ]


def test_decode_window_holds_the_decode_kernels_only(write_export):
    """``decode``: the decode phases of every request; its kernels are the decode steps."""
    b, record = sequential()
    path = write_export(b, record=record)
    run = load_report(path)
    window = window_for(run, read_record(path), parse_window("decode"))
    assert window.intervals == ((1_100, 1_500), (2_050, 2_400))
    decode = apply_window(run, window)
    kernels = decode.summary(reports.KERNELS)
    assert kernels[["name", "total_ns", "count"]].values.tolist() == [[BETA, 400, 4]]
    assert decode.summary(reports.API)["count"].tolist() == [4]
    assert decode.summary(reports.MEM_TIME).empty  # the upload is not in decode
    assert (decode.info.span_ns, decode.info.gpu_busy_ns) == (750, 400)
    prefill = apply_window(run, window_for(run, read_record(path), parse_window("prefill")))
    assert prefill.summary(reports.KERNELS)["total_ns"].tolist() == [70 + 20]
    request = apply_window(run, window_for(run, read_record(path), parse_window("request:2")))
    assert request.summary(reports.KERNELS)["count"].sum() == 3
    load = apply_window(run, window_for(run, read_record(path), parse_window("load")))
    assert load.summary(reports.MEM_SIZE)["total_bytes"].tolist() == [4096]


def test_window_tokens_per_window(write_export):
    """Per-token values divide by the tokens the window produced."""
    b, record = sequential()
    path = write_export(b, record=record)
    run = load_report(path)
    rec = read_record(path)

    tokens = {
        spec: window_tokens(window_for(run, rec, parse_window(spec)), rec)
        for spec in ("all", "workload", "decode", "prefill", "request:1", "load", "1us:2us")
    }
    assert tokens == {
        "all": 6,
        "workload": 6,
        "decode": 4,  # each request's first token comes from its prefill
        "prefill": 20,  # prompt tokens evaluated
        "request:1": 3,
        "load": None,
        "1us:2us": None,
    }


def test_named_window_without_a_record_says_why(write_export):
    """Without a record, load and workload are detected; prefill, decode and requests are not."""
    b, _ = sequential()
    run = load_report(write_export(b))
    assert window_for(run, None, parse_window("load")).intervals == ((0, 400),)
    with pytest.raises(WindowError) as decode:
        window_for(run, None, parse_window("decode"))
    assert str(decode.value) == (
        "run.sqlite has no decode times: phases come from a capture record with request "
        "times (schema 2, written by `llamaprof capture`) beside an export that has its "
        "session start, or are detected from the GPU work"
    )
    with pytest.raises(WindowError, match=r"^run.sqlite has no request times: "):
        window_for(run, None, parse_window("request:1"))


def test_request_beyond_the_workload_is_refused(write_export):
    """request:N past the last request names how many there are."""
    b, record = sequential()
    path = write_export(b, record=record)
    run = load_report(path)
    with pytest.raises(WindowError) as error:
        window_for(run, read_record(path), parse_window("request:3"))
    assert str(error.value) == "run.sqlite has 2 requests; there is no request:3"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("warmup", "unknown window 'warmup'; use one of all, load, workload, prefill, decode"),
        ("2s:1s", "empty window '2s:1s': its end is not after its start"),
        ("1h:", "not a time: '1h' (write 1.5s, 250ms, 120us, 800ns or nanoseconds)"),
        ("request:0", "request numbers start at 1 (request:1 is the first request)"),
    ],
)
def test_bad_window_texts(text, message):
    """Each malformed --window value gets one line saying what is accepted."""
    with pytest.raises(WindowError) as error:
        parse_window(text)
    assert str(error.value).startswith(message)


def test_in_intervals_half_open_and_unbounded():
    """Starts count from the low bound and stop before the high one; None is open; intervals
    may come in any order and overlap."""
    values = pd.Series([-5, 0, 4, 5, 9, 10, 15, 20, 99]).to_numpy()
    mask = in_intervals(values, [(15, None), (0, 5), (3, 10)])
    assert mask.tolist() == [False, True, True, True, True, False, True, True, True]
    assert in_intervals(values, [(None, 0)]).tolist() == [True] + [False] * 8
    assert in_intervals(values, []).tolist() == [False] * 9


def test_gpu_union_is_kept_until_a_frame_changes(write_export):
    """The merged GPU intervals are computed once per set of frames; a selection (new
    frames) or a replaced frame gets its own."""
    b = ExportBuilder()
    b.kernel(ALPHA, 0, 100, stream=7)
    b.kernel(BETA, 50, 150, stream=8)
    b.memcpy(300, 400, 8, "HtoD")
    events = load_report(write_export(b)).events
    lows, highs = events.gpu_union()
    assert (lows.tolist(), highs.tolist()) == ([0, 300], [150, 400])
    assert events.gpu_union()[0] is lows  # kept
    assert events.select([(200, None)]).gpu_union()[0].tolist() == [300]
    events.kernels = events.kernels.iloc[:1]
    assert events.gpu_union()[1].tolist() == [100, 400]


def test_plus_bounds_count_from_the_workload_start(write_export):
    """``+A:B`` is ``workload+A:B``: the same window, named in full (the workload starts at
    1,000 ns in this export, so +200ns:700ns is 1,200 to 1,700 on the timeline)."""
    b, record = sequential()
    path = write_export(b, record=record)
    run = load_report(path)
    short = window_for(run, read_record(path), parse_window("+200ns:700ns"))
    full = window_for(run, read_record(path), parse_window("workload+200ns:700ns"))
    assert short == full
    assert (short.name, short.intervals) == ("workload+200ns:700ns", ((1_200, 1_700),))
