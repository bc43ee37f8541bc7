"""The compare page on the new core: links that keep the view, the window, GPUs, throughput.

AppTest runs the real pages; real SQLite exports come from ../shared (copied first: tests
never write there), capture records are written beside the copies.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from app.support import (
    GENERATED,
    OLD,
    SEED,
    copy_report,
    make_app,
    open_tab,
    tab,
    timed_record,
)

from llamaprof.analyze.comparison import prepare_comparison
from llamaprof.analyze.windows import parse_window
from llamaprof.loading import load_entry
from llamaprof.render.comparison import table

from shared_data import shared_file

SEED_ID, GEN_ID = SEED.name, GENERATED.name
SEED_LABEL, GEN_LABEL = SEED.stem, GENERATED.stem
#: TARGET_INFO_SESSION_START_TIME.utcEpochNs of the two real exports of test-cuda.
REPORT1_START, REPORT2_START = 1_769_308_002_162_486_533, 1_769_320_577_184_271_416


def _no_errors(at) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _captions(at) -> list[str]:
    return [c.value for c in at.main.caption]


@pytest.fixture
def timed_pair(tmp_path: Path) -> Path:
    """The two real test-cuda exports with schema-2 records: two requests each, placed over
    the kernels (report1's at 1.45-1.52 s, report2's at 1.55-1.62 s), ``-fa on`` / ``-fa off``."""
    folder = tmp_path / "timed"
    for n, start, args, requests in (
        (1, REPORT1_START, ["-fa", "on"], [(1_440_000_000, 1_460_000_000, 1_500_000_000),
                                           (1_500_000_000, 1_510_000_000, 1_560_000_000)]),
        (2, REPORT2_START, ["-fa", "off"], [(1_530_000_000, 1_550_000_000, 1_590_000_000),
                                            (1_590_000_000, 1_600_000_000, 1_650_000_000)]),
    ):  # fmt: skip
        report = copy_report(
            shared_file(f"sqlite/0x822a5b87__test-cuda__report{n}.sqlite"), folder, f"r{n}.sqlite"
        )
        timed_record(report, start, requests, args=args, group=f"set/{n}")
    return folder


# --- links ------------------------------------------------------------------------------------


def test_a_link_opens_the_view_it_names(examples_dir: Path):
    """Runs (in their order), baseline, tab, kernels by family, window and values come from the
    link; the page writes the same link back."""
    link = {
        "run": [GEN_LABEL, SEED_LABEL],
        "baseline": GEN_LABEL,
        "tab": "kernels",
        "by": "family",
        "window": "all",
        "values": "none",
    }
    at = make_app(examples_dir)
    at.query_params.update(link)
    at.run()
    _no_errors(at)
    assert at.multiselect(key="compare_runs").value == [GEN_ID, SEED_ID]
    assert at.selectbox(key="compare_baseline").value == GEN_ID
    assert at.session_state["compare_tab"] == "Kernels"
    assert at.segmented_control(key="compare_kernels_by").value == "family"
    shown = tab(at, "Kernels").dataframe[0].value
    assert list(shown.columns)[:3] == ["Name", GEN_LABEL, SEED_LABEL]
    assert shown["Name"][0] == "matmul"
    assert at.query_params == {"folder": str(examples_dir), **link}


def test_a_link_to_runs_no_longer_there_says_which(examples_dir: Path):
    """A link naming a run the folder lacks: the others are selected, the page names it."""
    at = make_app(examples_dir)
    at.query_params.update({"run": ["gone-run", SEED_LABEL, GEN_LABEL], "tab": "nope"})
    at.run()
    assert not at.exception
    assert at.multiselect(key="compare_runs").value == [SEED_ID, GEN_ID]
    assert [w.value for w in at.warning] == ["The link names a run not in the folder: gone-run."]
    assert at.session_state["compare_tab"] == "CUDA API"
    assert at.query_params["run"] == [SEED_LABEL, GEN_LABEL]


def test_another_folder_selects_its_first_two_runs(examples_dir: Path, tmp_path: Path):
    """After a folder change the first two runs of the new folder are selected, not none."""
    other = tmp_path / "other"
    for name in ("x.txt", "y.txt", "z.txt"):
        copy_report(SEED, other, name)
    at = make_app(examples_dir).run()
    at.sidebar.text_input(key="reports_dir").input(str(other)).run()
    _no_errors(at)
    assert at.multiselect(key="compare_runs").value == ["x.txt", "y.txt"]
    assert at.query_params["folder"] == str(other)
    assert at.query_params["run"] == ["x", "y"]


# --- windows ----------------------------------------------------------------------------------


def test_window_defaults_to_the_workload_when_records_time_the_requests(timed_pair: Path):
    """Every run has request times: the window is the workload, said in the caption and the
    link; the tables are the CLI's for ``--window workload``."""
    at = make_app(timed_pair).run()
    _no_errors(at)
    assert at.selectbox(key="compare_window").value == "workload"
    assert "Totals over the workload window (not normalised)." in _captions(at)
    assert at.query_params["window"] == "workload"
    entries = [load_entry(timed_pair / name, key=name) for name in ("r1.sqlite", "r2.sqlite")]
    cli = prepare_comparison(entries, window=parse_window("workload"))
    assert tab(at, "CUDA API").dataframe[0].value.values.tolist() == (
        table(cli.view("api"), 10, compact=True).values.tolist()
    )
    whole = prepare_comparison(entries)
    assert cli.view("api").totals != whole.view("api").totals  # the window cut API calls


def test_a_window_a_run_cannot_take_falls_back_with_one_line(timed_pair: Path):
    """request:3 of two-request runs: one error line, and the whole capture is shown."""
    at = make_app(timed_pair)
    at.query_params["window"] = "request:3"
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Window request:3: -fa on has 2 requests; there is no request:3. "
        "Showing the whole capture."
    ]
    assert "Totals over the whole capture (not normalised)." in _captions(at)
    assert at.query_params["window"] == "request:3"


def test_windows_need_event_times(examples_dir: Path):
    """`nsys stats` text has no event times: the window stays "all", the control says why."""
    at = make_app(examples_dir).run()
    window = at.selectbox(key="compare_window")
    assert (window.value, window.disabled, window.options) == ("all", True, ["all"])
    assert (
        f"Time windows need the SQLite export or the `.nsys-rep`; {SEED_LABEL}, {GEN_LABEL} are "
        "`nsys stats` output without event times."
    ) in _captions(at)


# --- cards ------------------------------------------------------------------------------------


def test_cards_of_two_gpu_runs_show_the_gpus_and_kernel_time_per_gpu(tmp_path: Path):
    """A run whose kernels ran on two devices: its card counts the GPUs (the export names
    none) and splits its kernel time by device: 237_473_368 and 251_362_038 ns after."""
    folder = tmp_path / "two-gpu"
    for name in ("before", "after"):
        copy_report(
            shared_file(f"sqlite/GindaChen__nsys-ai__mfu_2gpu_{name}.sqlite"), folder, f"{name}.sqlite"
        )
    at = make_app(folder).run()
    _no_errors(at)
    card = at.get_by_key("header_after")
    assert [c.value for c in card.caption][1:] == [
        "2 GPUs (not named in the report)",
        "Kernel time per GPU: GPU 0 237 ms (48.6%) · GPU 1 251 ms (51.4%)",
    ]
    before = at.get_by_key("header_before")
    # 270_875_926 and 264_324_724 ns: 50.6% and 49.4% of 535_200_650 ns.
    assert [c.value for c in before.caption][-1] == (
        "Kernel time per GPU: GPU 0 271 ms (50.6%) · GPU 1 264 ms (49.4%)"
    )
    # the run list counts them too
    facts = [c.value for c in at.sidebar.caption if c.value.startswith("sqlite")]
    assert [f.split(" · ")[2] for f in facts] == ["2 GPUs (not named in the report)"] * 2


def test_a_folder_of_captures_opens_on_its_newest_set_config_against_config(tmp_path: Path):
    """No link: the page selects the newest A/B set's runs in capture order (its first
    config first, so the baseline), not the first two files (two repeats of ``-fa off``)."""
    folder = tmp_path / "ab"
    runs = {  # name -> (set, config index, args, repeat)
        "0-older": ("20261201-120000", 0, ["-fa", "on"], 1),
        "0-older-off": ("20261201-120000", 1, ["-fa", "off"], 1),
        "a-off-1": ("20261205-003613", 1, ["-fa", "off"], 1),
        "a-off-2": ("20261205-003613", 1, ["-fa", "off"], 2),
        "b-on-1": ("20261205-003613", 0, ["-fa", "on"], 1),
        "b-on-2": ("20261205-003613", 0, ["-fa", "on"], 2),
    }
    for name, (set_id, config, args, repeat) in runs.items():
        copy_report(SEED, folder, f"{name}.txt")
        record = {
            "schema": 2,
            "name": name,
            "settings": {"args": args, "env": {}},
            "set": {"id": set_id, "config_index": config},
            "repeat": {"group": f"{set_id}/{config + 1}", "index": repeat, "of": 2},
        }
        (folder / f"{name}.llamaprof.json").write_text(json.dumps(record))
    at = make_app(folder).run()
    _no_errors(at)
    assert at.multiselect(key="compare_runs").value == ["b-on-1.txt", "b-on-2.txt",
                                                        "a-off-1.txt", "a-off-2.txt"]  # fmt: skip
    assert at.selectbox(key="compare_baseline").value == "b-on-1.txt"
    assert at.query_params["baseline"] == "b-on-1"


def test_runs_whose_names_slug_alike_get_a_card_each(tmp_path: Path):
    """``fa-on`` and ``fa_on`` (and ``RunA``/``runa``) make one key slug; the page draws a card
    for each (keyed by position) instead of refusing the duplicate key."""
    folder = tmp_path / "alike"
    copy_report(SEED, folder, "fa-on.txt")
    copy_report(GENERATED, folder, "fa_on.sqlite")
    at = make_app(folder).run()
    _no_errors(at)
    first, second = at.get_by_key("header_fa_on_1"), at.get_by_key("header_fa_on_2")
    assert [m.value.split("**")[1] for m in (first.markdown[0], second.markdown[0])] == [
        "fa-on",
        "fa\\_on",  # Markdown-escaped
    ]


# --- throughput and runs without a GPU --------------------------------------------------------


def test_throughput_compares_configs_with_mean_and_spread(tmp_path: Path):
    """Two repeats of two configs: one card and one table column per config, mean ± spread,
    each metric's change in its own direction."""
    folder = tmp_path / "throughput"
    speeds = {("on", 1): 50.0, ("on", 2): 54.0, ("off", 1): 40.0, ("off", 2): 42.0}
    for (fa, i), speed in speeds.items():
        report = copy_report(SEED, folder, f"fa-{fa}-{i}.txt")
        timed_record(
            report, 0, [(0, 100_000_000, 400_000_000)], args=["-fa", fa],
            group=f"set/{'1' if fa == 'on' else '2'}", index=i, of=2,
            totals={"predicted_per_second": speed, "prompt_per_second": 10 * speed},
        )  # fmt: skip
    at = make_app(folder).run()
    # the folder opens on its set, -fa on first (set/1); -fa off is made the baseline
    assert at.multiselect(key="compare_runs").value == [
        "fa-on-1.txt", "fa-on-2.txt", "fa-off-1.txt", "fa-off-2.txt",
    ]  # fmt: skip
    at.selectbox(key="compare_baseline").set_value("fa-off-1.txt")
    at.run()
    at = open_tab(at, "Throughput")
    _no_errors(at)
    assert at.query_params["tab"] == "throughput"
    shown = tab(at, "Throughput").dataframe[0].value
    # -fa off (the baseline) 40 and 42 tokens/s, -fa on 50 and 54.
    assert list(shown.columns) == ["Name", "-fa off", "-fa on", "Δ -fa on", "Δ% -fa on"]
    assert shown.values.tolist() == [
        ["generation tokens/s", "41.0 ± 1.4 tokens/s", "52.0 ± 2.8 tokens/s",
         "+11.0 tokens/s", "+26.8%"],
        ["prompt tokens/s", "410 ± 14.1 tokens/s", "520 ± 28.3 tokens/s",
         "+110 tokens/s", "+26.8%"],
        ["request latency", "400 ms", "400 ms", "0 ns", "0.0%"],
        ["time to first token", "100 ms", "100 ms", "0 ns", "0.0%"],
    ]  # fmt: skip
    on = at.get_by_key("throughput_fa_on")
    assert [(m.label, m.value, m.proto.delta) for m in on.get("metric")] == [
        # the label names the unit, so the card's value is the number and its spread
        ("generation tokens/s", "52.0 ± 2.8", "+26.8%"),
        ("prompt tokens/s", "520 ± 28.3", "+26.8%"),
        ("request latency", "400 ms", ""),
        ("time to first token", "100 ms", ""),
    ]


def test_runs_without_cuda_tables_still_compare_throughput(tmp_path: Path):
    """Exports of captures on a machine without a GPU: each CUDA tab says so in one line,
    throughput still compares."""
    folder = tmp_path / "no-gpu"
    for n, start, fa, speed in ((1, REPORT1_START, "on", 50.0), (2, REPORT2_START, "off", 40.0)):
        report = copy_report(
            shared_file(f"sqlite/0x822a5b87__test-cuda__report{n}.sqlite"), folder, f"r{n}.sqlite"
        )
        report.chmod(0o644)
        with sqlite3.connect(report) as db:
            tables = [
                name
                for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                if name.startswith(("CUPTI_", "TARGET_INFO_GPU", "TARGET_INFO_CUDA"))
            ]
            for name in tables:
                db.execute(f"DROP TABLE {name}")
        db.close()
        os.utime(report, (OLD, OLD))  # finished long ago, not being written
        timed_record(
            report, start, [(1_440_000_000, 1_460_000_000, 1_500_000_000)], args=["-fa", fa],
            group=f"set/{n}", totals={"predicted_per_second": speed},
        )  # fmt: skip
    at = make_app(folder).run()
    _no_errors(at)
    # Nothing CUDA to show: the page opens on throughput.
    assert at.session_state["compare_tab"] == "Throughput"
    assert tab(at, "Throughput").dataframe[0].value.values.tolist() == [
        ["generation tokens/s", "50.0 tokens/s", "40.0 tokens/s", "-10.0 tokens/s", "-20.0%"],
        ["request latency", "60.0 ms", "60.0 ms", "0 ns", "0.0%"],
        ["time to first token", "20.0 ms", "20.0 ms", "0 ns", "0.0%"],
    ]
    lines = {}
    for title in ("CUDA API", "Kernels", "Memory operations"):
        at = open_tab(at, title)
        _no_errors(at)
        lines[title] = [i.value for i in tab(at, title).info]
    tail = ": captured on a machine without a GPU, or nsys recorded no CUDA activity. nsys: "
    assert lines == {
        "CUDA API": [f"No run has the CUDA API Summary (cuda_api_sum){tail}"
                     "does not contain CUDA trace data."],
        "Kernels": [f"No run has the CUDA GPU Kernel Summary (cuda_gpu_kern_sum){tail}"
                    "does not contain CUDA kernel data."],
        "Memory operations": [
            "No run has the CUDA GPU MemOps Summary (by Time) (cuda_gpu_mem_time_sum) nor CUDA "
            f"GPU MemOps Summary (by Size) (cuda_gpu_mem_size_sum){tail}"
            "does not contain GPU memory data."
        ],
    }  # fmt: skip
    # The Single-run page of such a run shows its throughput, from the record.
    at.switch_page("app_pages/run.py").run()
    _no_errors(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["generation tokens/s"] == "50.0"
    assert metrics["request latency"] == "60.0 ms"
    assert metrics["GPU kernel time"] == "n/a"
    # and no serving findings about a GPU that was not there ("GPU busy 0.0%")
    assert not [m.value for m in at.markdown if "GPU busy" in m.value]


# --- timeline -----------------------------------------------------------------------------------


def test_timeline_tab_draws_the_runs_and_their_serving(timed_pair: Path):
    """The Timeline tab draws one chart of both runs, aligned at their workload start, with a
    brushable window, and each run's serving findings."""
    at = make_app(timed_pair).run()
    at = open_tab(at, "Timeline")
    _no_errors(at)
    (chart,) = [c for c in at.get("vega_lite_chart") if "timeline" in c.proto.id]
    spec = __import__("json").loads(chart.proto.spec)
    assert spec["params"][0]["name"] == "window"
    assert spec["facet"]["row"]["field"] == "run"
    assert [e.label for e in tab(at, "Timeline").expander] == ["-fa on", "-fa off"]
    captions = _captions(at)
    assert any("runs aligned at their workload start" in c for c in captions)


def test_a_brushed_range_becomes_the_window_of_every_tab(timed_pair: Path):
    """A range of the timeline (ms from each run's workload start) is the window workload+A:B
    (here from a link, as a brushed range leaves it): the caption names it, and each run's
    window starts at its own workload start."""
    at = make_app(timed_pair)
    at.query_params.update({"window": "workload+0ms:60ms", "tab": "kernels"})
    at.run()
    _no_errors(at)
    assert "Totals over the workload+0ms:60ms window (not normalised)." in _captions(at)
    entries = [load_entry(timed_pair / name, key=name) for name in ("r1.sqlite", "r2.sqlite")]
    cli = prepare_comparison(entries, window=parse_window("workload+0ms:60ms"))
    assert {m.window.intervals for m in cli.members.values()} == {
        ((1_440_000_000, 1_500_000_000),),
        ((1_530_000_000, 1_590_000_000),),
    }
