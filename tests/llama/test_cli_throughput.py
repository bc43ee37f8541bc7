"""``llamaprof compare`` on throughput: capture records alone (``--no-profile`` captures, or
captures on a machine without a GPU), per config with mean ± spread, each row in its own unit
and direction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from llamaprof.cli import main

T0 = 1_800_000_000_000_000_000  # wall-clock ns


def _record(
    folder: Path, name: str, fa: str, index: int, speed: float, latency_ms: int, first_ms: int
) -> Path:
    """A schema-2 record of a --no-profile run: two requests, llama-server's speeds."""
    requests = [
        {
            "index": i,
            "start_ns": T0 + i * 10**9,
            "first_token_ns": T0 + i * 10**9 + first_ms * 10**6,
            "end_ns": T0 + i * 10**9 + latency_ms * 10**6,
            "timings": {
                "prompt_n": 32,
                "predicted_n": 16,
                "prompt_ms": 10.0,
                "predicted_ms": 100.0,
            },
        }
        for i in range(2)
    ]
    config = 1 if fa == "on" else 2
    data = {
        "schema": 2,
        "name": name,
        "label": f"-fa {fa}",
        "set": {"id": "S", "configs": ["-fa on", "-fa off"], "config_index": config - 1},
        "repeat": {"group": f"S/{config}", "index": index, "of": 2},
        "settings": {"args": ["-ngl", "99", "-fa", fa], "env": {}},
        "server_args": {
            "-m": "m.gguf",
            "-fa": fa,
            "--host": "127.0.0.1",
            "--port": str(30000 + index),
        },
        "profiled": False,
        "requests": requests,
        "totals": {
            "requests": 2,
            "generated_tokens": 32,
            "predicted_per_second": speed,
            "prompt_per_second": speed * 10,
            "generated_per_wall_second": speed / 2,
        },
    }
    path = folder / f"{name}.llamaprof.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """fa on and fa off, two repeats each (records only: captured without a profiler)."""
    monkeypatch.setenv("LLAMAPROF_CACHE_DIR", str(tmp_path / "cache"))
    return [
        _record(tmp_path, "on_r1", "on", 1, 100.0, 200, 20),
        _record(tmp_path, "on_r2", "on", 2, 104.0, 210, 22),
        _record(tmp_path, "off_r1", "off", 1, 90.0, 230, 30),
        _record(tmp_path, "off_r2", "off", 2, 86.0, 250, 32),
    ]


def _compare(*args: str | Path):
    return CliRunner().invoke(main, ["compare", *map(str, args)], catch_exceptions=False)


#: What ``compare`` says on stderr when it picks throughput itself.
NOTE = (
    "llamaprof: note: no run holds CUDA data (capture records alone, or captures without a "
    "GPU): comparing throughput\n"
)


def test_records_alone_compare_throughput_by_config(records: list[Path]) -> None:
    """With only records the default report is throughput: one column per config (its
    repeats inside), labelled by what differs; llamaprof's own --port never does."""
    result = _compare(*records)
    assert result.exit_code == 0
    assert result.stderr == NOTE  # said, since no --report asked for throughput
    assert result.stdout.splitlines() == [
        "**Throughput**; baseline `-fa on`",
        "",
        "From the capture records: llama-server's own timings of every request, and the "
        "workload's wall clock. Not cut to the window.",
        "",
        "| Name | -fa on (baseline) | -fa off | Δ -fa off | Δ% -fa off |",
        "|---|---:|---:|---:|---:|",
        "| generation tokens/s | 102 ± 2.8 tokens/s | 88.0 ± 2.8 tokens/s "
        "| -14.0 tokens/s | -13.7% |",
        "| prompt tokens/s | 1,020 ± 28.3 tokens/s | 880 ± 28.3 tokens/s "
        "| -140 tokens/s | -13.7% |",
        "| generated tokens/s (wall clock) | 51.0 ± 1.4 tokens/s | 44.0 ± 1.4 tokens/s "
        "| -7.0 tokens/s | -13.7% |",
        "| request latency | 205 ± 7.07 ms | 240 ± 14.1 ms | +35.0 ms | +17.1% |",
        "| time to first token | 21.0 ± 1.41 ms | 31.0 ± 1.41 ms | +10.0 ms | +47.6% |",
    ]


def test_json_rows_carry_unit_and_direction(records: list[Path]) -> None:
    """Each JSON row names its unit and which way is better; values are means of repeats."""
    document = json.loads(_compare(*records, "--format", "json").stdout)
    assert (document["report"], document["unit"], document["runs"]) == (
        "throughput",
        None,
        ["-fa on", "-fa off"],
    )
    rows = {row["name"]: row for row in document["rows"]}
    assert [(name, row["unit"], row["better"]) for name, row in rows.items()] == [
        ("generation tokens/s", "tokens/s", "higher"),
        ("prompt tokens/s", "tokens/s", "higher"),
        ("generated tokens/s (wall clock)", "tokens/s", "higher"),
        ("request latency", "ns", "lower"),
        ("time to first token", "ns", "lower"),
    ]
    assert rows["request latency"]["values"] == {"-fa on": 205_000_000.0, "-fa off": 240_000_000.0}
    assert rows["generation tokens/s"]["std"] == {
        "-fa on": pytest.approx(2.8284271),
        "-fa off": pytest.approx(2.8284271),
    }


def test_fail_above_counts_each_metric_in_its_own_direction(records: list[Path]) -> None:
    """A drop in tokens/s and a rise in latency are regressions; baseline swapped, they are not."""
    result = _compare(*records, "--format", "csv", "--fail-above", "15")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[1:] == [
        "llamaprof: regression: -fa off: request latency +17.1% against -fa on (limit +15%)",
        "llamaprof: regression: -fa off: time to first token +47.6% against -fa on (limit +15%)",
    ]
    faster = _compare(*records, "--baseline", "-fa off", "--fail-above", "15")
    assert faster.exit_code == 0  # fa on against fa off: faster, lower latency


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--by", "family"), "--by family applies to the kernel report, not to throughput"),
        (("--report", "throughput", "--normalize", "per-token"), "--normalize applies to CUDA"),
        (("--report", "throughput", "--window", "decode"), "--window applies to CUDA reports"),
        # records alone: throughput is the default report, the same rules hold, and the
        # line says why the report is throughput
        (("--normalize", "per-token"), "Error: no run holds CUDA data (capture records alone, "
         "or captures without a GPU), so compare shows throughput: --normalize applies to CUDA "
         "reports, not to throughput"),
        (("--window", "decode"), "so compare shows throughput: --window applies to CUDA reports, "
         "not to throughput"),
        (("--top", "2"), "so compare shows throughput: --top applies to CUDA reports; "
         "throughput shows every metric"),
    ],
)  # fmt: skip
def test_options_that_do_not_apply_are_usage_errors(records, args, message) -> None:
    result = _compare(*records, *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_cuda_reports_of_records_alone_say_so_in_one_line(records: list[Path]) -> None:
    """No run holds CUDA data: the CUDA report says so in one line and points at throughput."""
    result = _compare(*records, "--report", "kernels")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "llamaprof: none of the runs has the cuda_gpu_kern_sum report (capture records alone, "
        "or captures on a machine without a GPU, hold no CUDA data); compare their throughput "
        "with --report throughput\n"
    )
