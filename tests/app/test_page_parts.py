"""The pure parts behind the compare page: names shortened in the middle, table widths, the
facts of the run cards (GPUs, kernel time per GPU, repeats' means), the windows offered."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from app.support import GENERATED, SEED, timed_record

from llamaprof.analyze.overview import group_overview, kernel_time_by_device, run_gpus
from llamaprof.events import Events
from llamaprof.loading import LoadedRun, load_entry
from llamaprof.model import ReportFormat, Run, RunInfo
from llamaprof.record import parse_record
from llamaprof.render.tables import column_widths
from llamaprof.render.text import gpus_text, shorten_middle, shorten_names
from llamaprof.ui.comparing import window_choices


def _kernels(rows: list[tuple[int, int]]) -> Events:
    """Kernel events of (duration_ns, device) each."""
    return Events(
        kernels=pd.DataFrame(
            {
                "start_ns": range(len(rows)),
                "duration_ns": [d for d, _ in rows],
                "name": 0,
                "device": [dev for _, dev in rows],
            }
        )
    )


def _run(name: str, events: Events | None = None, **info) -> Run:
    return Run(Path(name), ReportFormat.SQLITE, events=events, info=RunInfo(**info))


# --- names ------------------------------------------------------------------------------------


def test_shorten_middle_keeps_the_start_and_more_of_the_end():
    """39 characters cut to 20: 8 from the start, the ellipsis, 11 (60% of 19) from the end;
    all of the end with ``tail=1``."""
    name = "GindaChen__nsys-ai__mfu_2gpu_before_run"
    assert shorten_middle(name, 20) == "GindaChe…_before_run"
    assert shorten_middle(name, 20, tail=1.0) == "…mfu_2gpu_before_run"
    assert shorten_middle(name, len(name)) == name
    with pytest.raises(ValueError, match="limit must be 3 or more"):
        shorten_middle(name, 2)


def test_shorten_names_tells_every_name_apart():
    """Names alike at both ends keep their start past where they differ; the rest stay whole
    rather than read alike."""
    names = [
        "elementwise_kernel<128,4,gpu_kernel_impl_nocast<direct_copy_kernel_cuda>>",
        "elementwise_kernel<128,2,gpu_kernel_impl_nocast<direct_copy_kernel_cuda>>",
        "flash_fwd_kernel",
    ]
    short = shorten_names(names, 24)
    # They differ at character 23 ("4" / "2"): 25 characters of start, then 12 of the end.
    assert short == {
        names[0]: "elementwise_kernel<128,4,…ernel_cuda>>",
        names[1]: "elementwise_kernel<128,2,…ernel_cuda>>",
        "flash_fwd_kernel": "flash_fwd_kernel",
    }
    assert len(set(short.values())) == 3
    # Differing only deep in the middle: no form within twice the limit tells them apart.
    alike = ["a" * 20 + "X" + "b" * 20, "a" * 20 + "Y" + "b" * 20]
    assert shorten_names(alike, 8) == {alike[0]: alike[0], alike[1]: alike[1]}


def test_column_widths_fit_the_budget_and_leave_the_rest_to_the_names():
    """Other columns take their longest text (header or cell); Name takes what is left,
    between 150 and 260 px."""
    table = pd.DataFrame(
        {
            "Name": ["cudaStreamSynchronize", "Total"],
            "run-a": ["18.8 s", "23.1 s"],
            "Δ% run-b": ["+0.6%", "+0.8%"],
        }
    )
    widths = column_widths(table, headers={"run-a": "a", "Δ% run-b": "Δ%"}, budget=300)
    # "18.8 s": 6 x 7 + 20 = 62; "+0.6%": 5 x 7 + 20 = 55, less than 56; 300 - 62 - 56 = 182.
    assert widths == {"Name": 182, "run-a": 62, "Δ% run-b": 56}
    assert column_widths(table, budget=2000)["Name"] == 260
    assert column_widths(table, budget=100)["Name"] == 150


# --- run cards --------------------------------------------------------------------------------


def test_kernel_time_by_device_of_repeats_is_the_mean_with_its_spread():
    """Two repeats: per device the mean of their kernel time (a run without the device counts
    0), the sample standard deviation, the share of the mean total; names by device id."""
    first = _run("a.sqlite", _kernels([(100, 0), (300, 1)]), gpus=["A100", "H100"])
    second = _run("b.sqlite", _kernels([(200, 0)]))
    table = kernel_time_by_device([first, second])
    assert table.to_dict("list") == {
        "device": [0, 1],
        "gpu": ["A100", "H100"],
        "kernel_time_ns": [150.0, 150.0],
        "std_ns": [pytest.approx(70.71067811865476), pytest.approx(212.13203435596427)],
        "kernels": [1.0, 0.5],
        "share": [0.5, 0.5],
    }
    per_token = kernel_time_by_device([first], [10.0])
    assert list(per_token["kernel_time_ns"]) == [10.0, 30.0]
    assert kernel_time_by_device([_run("t.txt")]).empty  # nsys stats text: no events


def test_run_gpus_from_the_report_the_record_or_the_devices():
    """Names from the export, else from the capture record; as many as devices seen."""
    assert run_gpus(_run("a.sqlite", gpus=["RTX 4060 Ti"])) == ["RTX 4060 Ti"]
    record = parse_record({"gpu": [{"index": "0", "name": "NVIDIA H100"}]}, "r.llamaprof.json")
    assert run_gpus(_run("t.txt"), record) == ["NVIDIA H100"]
    unnamed = _run("b.sqlite", _kernels([(1, 0), (1, 1)]))
    assert run_gpus(unnamed) == [None, None]
    assert run_gpus(None) == []
    assert gpus_text(["A100", "A100"]) == "2 GPUs: 2 × A100"
    assert gpus_text([None, None]) == "2 GPUs (not named in the report)"
    assert gpus_text(["RTX 4060 Ti"]) == "1 GPU: RTX 4060 Ti"


def test_group_overview_means_and_spreads_times_per_factor():
    """Span and busy share as they are; kernel time divided by each run's factor first."""
    runs = [
        _run("a.sqlite", span_ns=100, gpu_busy_ns=50),
        _run("b.sqlite", span_ns=300, gpu_busy_ns=30),
    ]
    facts = group_overview(runs, [1.0, 2.0])
    assert facts["span_ns"] == (200.0, pytest.approx(141.4213562373095))
    assert facts["gpu_busy_share"] == (0.3, pytest.approx(0.28284271247461906))
    assert facts["kernel_time_ns"] == (None, 0.0)  # no kernel summary in these runs


# --- windows offered --------------------------------------------------------------------------


def test_windows_offered_follow_what_the_runs_have(tmp_path: Path):
    """`nsys stats` text: the whole capture only, and why; exports with request times: the
    phases and each request up to the fewest of the runs."""
    text = [load_entry(SEED), load_entry(GENERATED)]
    assert window_choices(text) == (
        ["all"],
        "Time windows need the SQLite export or the `.nsys-rep`; gemma3-4b-f16-fa-seed, "
        "gemma3-4b-f16-nofa-generated are `nsys stats` output without event times.",
    )
    events = _kernels([(1, 0)])
    plain = [
        LoadedRun(f"{n}.sqlite", tmp_path / f"{n}.sqlite", _run(f"{n}.sqlite", events))
        for n in "ab"
    ]
    assert window_choices(plain) == (["all", "load", "workload"], None)
    timed = []
    for n, count in (("a", 3), ("b", 2)):
        report = tmp_path / f"{n}.sqlite"
        record = timed_record(
            report, 0, [(i, i + 1, i + 2) for i in range(count)], args=["-fa", "on"],
            group=f"set/{n}",
        )  # fmt: skip
        typed = parse_record(json.loads(record.read_text()), record)
        timed.append(LoadedRun(report.name, report, _run(report.name, events), typed))
    assert window_choices(timed) == (
        ["all", "load", "workload", "prefill", "decode", "request:1", "request:2"],
        None,
    )
