"""The A/B loop end to end, as a user runs it, with real parts only.

``llamaprof capture --config "-fa on" --config "-fa off" --repeat 2`` (the installed command)
runs the real llama-server (CPU build, tiny model) under the real nsys 2022.4; then
``llamaprof compare`` reads what it wrote, and the app's Compare page opens the same folder.
A CPU capture holds no CUDA tables, so the groups are checked through throughput; the CUDA
reports say so in one line. Nothing the capture started may be left running (the capture
tests' autouse ``test_mark`` fixture polls the process table).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from app.support import make_app, open_tab

pytestmark = pytest.mark.server

CLI = Path(sys.executable).parent / "llamaprof"
METRICS = [
    "generation tokens/s",
    "prompt tokens/s",
    "generated tokens/s (wall clock)",
    "request latency",
    "time to first token",
]


def _run(*args: object, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CLI), *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.fixture
def ab_set(tmp_path: Path, tiny_model: Path, llama_server: str, real_nsys: str, no_driver):
    """Two configs, two repeats each, captured under the real nsys by the installed command."""
    reports = tmp_path / "reports"
    env = {**os.environ, "LLAMAPROF_CACHE_DIR": str(tmp_path / "cache")}
    captured = _run(
        "capture", "--server", llama_server, "--model", tiny_model, "--nsys", real_nsys,
        "--reports", reports, "--requests", "2", "--n-predict", "8",
        "--config", "-fa on", "--config", "-fa off", "--repeat", "2",
        "--", "-c", "512", "-np", "1",
        env=env,
    )  # fmt: skip
    assert captured.returncode == 0, captured.stderr
    return reports, env, captured


def test_capture_then_compare_in_the_cli_and_the_app(ab_set) -> None:
    reports, env, captured = ab_set
    names = sorted(p.name.removesuffix(".nsys-rep") for p in reports.glob("*.nsys-rep"))
    assert [n.split("_", 1)[1] for n in names] == ["fa-off_r1", "fa-off_r2", "fa-on_r1", "fa-on_r2"]
    for name in names:  # report, export and record of every run; nothing else
        assert sorted(p.name for p in reports.glob(f"{name}.*")) == [
            f"{name}.llamaprof.json",
            f"{name}.nsys-rep",
            f"{name}.sqlite",
        ]
    assert captured.stderr.startswith("llamaprof: warning: no NVIDIA driver answers")

    # The CLI: one column per config, its two repeats inside, labelled by what differs.
    runs = sorted(reports.glob("*.nsys-rep"))
    compared = _run("compare", *runs, "--baseline", "-fa on", "--format", "json", env=env)
    assert compared.returncode == 0, compared.stderr
    assert compared.stderr == (
        "llamaprof: note: no run holds CUDA data (capture records alone, or captures without "
        "a GPU): comparing throughput\n"
    )
    document = json.loads(compared.stdout)
    assert (document["report"], document["baseline"], document["runs"]) == (
        "throughput",
        "-fa on",
        ["-fa on", "-fa off"],
    )
    assert [row["name"] for row in document["rows"]] == METRICS
    for row in document["rows"]:
        assert set(row["values"]) == set(row["std"]) == {"-fa on", "-fa off"}
        assert all(v > 0 for v in row["values"].values())
    markdown = _run("compare", *runs, "--baseline", "-fa on", env=env).stdout.splitlines()
    assert markdown[0] == "**Throughput**; baseline `-fa on`"
    assert markdown[4] == "| Name | -fa on (baseline) | -fa off | Δ -fa off | Δ% -fa off |"
    assert [line.split(" | ")[0] for line in markdown[6:]] == [f"| {m}" for m in METRICS]
    run_by_run = json.loads(
        _run("compare", *runs, "--no-repeats", "--format", "json", env=env).stdout
    )
    assert sorted(run_by_run["runs"]) == ["-fa off #1", "-fa off #2", "-fa on #1", "-fa on #2"]
    # each config's value and spread are the mean and sample deviation of its two runs
    for grouped, single in zip(document["rows"], run_by_run["rows"], strict=True):
        assert grouped["name"] == single["name"]
        for config in ("-fa on", "-fa off"):
            pair = [single["values"][f"{config} #{i}"] for i in (1, 2)]
            assert grouped["values"][config] == pytest.approx(statistics.mean(pair))
            assert grouped["std"][config] == pytest.approx(statistics.stdev(pair))
    kernels = _run("compare", *runs, "--report", "kernels", env=env)
    assert kernels.returncode == 1 and kernels.stdout == ""
    assert kernels.stderr.startswith("llamaprof: none of the runs has the cuda_gpu_kern_sum report")
    assert kernels.stderr.count("\n") == 1

    # The app on the same folder: the same two columns, means ± spread, throughput first
    # (there is no CUDA data to show).
    at = make_app(reports)
    at.query_params.update({"run": names})
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.session_state["compare_tab"] == "Throughput"
    at = open_tab(at, "Throughput")
    assert not at.exception
    (table,) = [t.value for t in at.dataframe if "Name" in t.value.columns]
    assert list(table["Name"]) == METRICS
    assert {"-fa on", "-fa off"} <= set(table.columns)
    assert all(" ± " in cell for cell in table["-fa on"])  # two repeats: mean ± spread

    # The timeline of a capture without a GPU: one line in the CLI, one note on the page.
    timeline = _run("timeline", runs[0], env=env)
    assert (timeline.returncode, timeline.stdout) == (1, "")
    assert timeline.stderr == (
        f"llamaprof: {runs[0].name} holds no CUDA events (a capture on a machine without a "
        "GPU?): nothing to put on a timeline\n"
    )
    at = open_tab(at, "Timeline")
    assert not at.exception
    assert [i.value for i in at.info][-1].startswith("The timeline needs CUDA events")
    assert not at.get("vega_lite_chart")
    # Over the workload (the default window: the records time every request) each config's
    # card has its span; over the whole capture there is nothing of CUDA to measure it by.
    spans = [c.value for c in at.get_by_key("header_fa_on").caption]
    assert spans[-1].startswith("span ") and " ± " in spans[-1]
    at.session_state["compare_window"] = "all"
    at.run()
    assert [c.value for c in at.get_by_key("header_fa_on").caption][-1] == (
        "bytes, span and busy share: no CUDA events in this capture (captured without a GPU?)"
    )
