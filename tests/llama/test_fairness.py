"""Fair comparisons: normalisation, config diff, labels, comparability warnings, repeats."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from llamaprof.analyze.fairness import (
    ComparabilityWarning,
    Normalize,
    NotNormalizable,
    comparability_warnings,
    config_diff,
    diff_labels,
    divisor,
    flatten_config,
    load_records,
    normalization_caption,
    normalize_frames,
    repeat_diff,
    repeat_groups,
    require_divisors,
    safe_records,
    unit_for,
)
from llamaprof.errors import LlamaprofError
from llamaprof.model import ReportFormat, Run, RunInfo
from llamaprof.sources import load_report

from shared_data import SEED_TEXT, shared_file


def _record(tokens: int | None = 512, requests: int = 4, **extra) -> dict:
    totals = {"requests": requests, "prompt_tokens": 100}
    if tokens is not None:
        totals["generated_tokens"] = tokens
    return {"totals": totals, **extra}


def test_divisor() -> None:
    """Per-token divides by generated tokens, per-request by requests; else None."""
    record = _record(512, 4)
    assert divisor(record, "per-token") == 512.0
    assert divisor(record, Normalize.PER_REQUEST) == 4.0
    assert divisor(record, "none") == 1.0
    assert divisor(None, "none") == 1.0
    assert divisor(None, "per-token") is None
    assert divisor(_record(None), "per-token") is None
    assert divisor(_record(0), "per-token") is None
    assert divisor({"totals": {"generated_tokens": True}}, "per-token") is None


def test_require_divisors_names_the_runs_without_record() -> None:
    """The command line refuses per-token when a run has no record, naming it in one line."""
    with pytest.raises(NotNormalizable) as info:
        require_divisors({"a": _record(), "b": None, "c": _record(0)}, "per-token")
    assert str(info.value) == (
        "--normalize per-token needs a capture record with generated tokens beside every run; "
        "b, c have none (use --normalize none)"
    )
    assert isinstance(info.value, LlamaprofError)
    with pytest.raises(NotNormalizable, match=r"; b has none \(use --normalize none\)$"):
        require_divisors({"a": _record(), "b": None}, "per-request")
    assert require_divisors({"a": _record(512), "b": _record(256)}, "per-token") == {
        "a": 512.0,
        "b": 256.0,
    }


def test_normalize_frames_and_caption() -> None:
    """Totals are divided per run; counts are not; runs without a divisor keep totals."""
    frame = pd.DataFrame({"name": ["k1", "k2"], "total_ns": [1000, 300], "count": [10, 3]})
    out = normalize_frames({"a": frame, "b": frame, "c": frame}, {"a": 4.0, "b": None, "c": 1.0})
    assert out["a"]["total_ns"].tolist() == [250.0, 75.0]
    assert out["a"]["count"].tolist() == [10, 3]
    assert out["b"]["total_ns"].tolist() == [1000, 300]
    assert out["c"]["total_ns"].dtype == "int64"  # dividing by 1 keeps exact integers
    assert frame["total_ns"].tolist() == [1000, 300]
    assert normalization_caption("per-token", {"a": 512.0, "b": None}) == (
        "Per generated token: a ÷ 512 tokens; b shows totals (no capture record)."
    )
    assert normalization_caption("per-request", {"a": 4.0}) == "Per request: a ÷ 4 requests."
    assert normalization_caption("none", {}) == "Totals over the whole capture (not normalised)."


def test_unit_for() -> None:
    """Units name the report's measure and the normalisation."""
    assert unit_for("cuda_gpu_kern_sum") == "ns"
    assert unit_for("gpumemsizesum", "per-token") == "bytes/token"
    assert unit_for("cuda_api_sum", "per-request") == "ns/request"


FA_ON = {
    "server_args": {
        "-m": "/models/gemma-3-4b-it-f16.gguf",
        "-ngl": "99",
        "-fa": "on",
        "--metrics": True,
    },
    "env": {"CUDA_VISIBLE_DEVICES": "1"},
    "model": {"path": "/models/gemma-3-4b-it-f16.gguf", "size_bytes": 7_767_000_000},
    "gpu": "NVIDIA GeForce RTX 4090",
    "versions": {"llama_server": "b6500", "nsys": "2025.1.3"},
}
FA_OFF = {
    "server_args": {"-m": "/models/gemma-3-4b-it-f16.gguf", "-ngl": "99", "-fa": "off"},
    "env": {"CUDA_VISIBLE_DEVICES": "1", "GGML_CUDA_DISABLE_GRAPHS": "1"},
    "model": {"path": "/models/gemma-3-4b-it-f16.gguf", "size_bytes": 7_767_000_000},
    "gpu": "NVIDIA GeForce RTX 4090",
    "versions": {"llama_server": "b6500", "nsys": "2025.1.3"},
}


def test_flatten_config() -> None:
    """A record's args, env, model, GPU and versions read as settings; bare flags as (set)."""
    assert flatten_config(FA_ON) == {
        "arg -m": "/models/gemma-3-4b-it-f16.gguf",
        "arg -ngl": "99",
        "arg -fa": "on",
        "arg --metrics": "(set)",
        "env CUDA_VISIBLE_DEVICES": "1",
        "model": "/models/gemma-3-4b-it-f16.gguf",
        "model size": "7767000000",
        "gpu": "NVIDIA GeForce RTX 4090",
        "llama-server": "b6500",
        "nsys": "2025.1.3",
    }
    assert flatten_config(
        {"server_args": ["-fa", "on", "-t", "-1", "--metrics", "--ctx-size=0"]}
    ) == {
        "arg -fa": "on",
        "arg -t": "-1",
        "arg --metrics": "(set)",
        "arg --ctx-size": "0",
    }
    assert flatten_config(None) == {}


def test_config_diff() -> None:
    """Settings side by side, the differing ones first and marked."""
    frame = config_diff({"on": FA_ON, "off": FA_OFF, "bare": None})
    m = "/models/gemma-3-4b-it-f16.gguf"
    expected = pd.DataFrame(
        [
            ["arg -fa", "on", "off", "", True],
            ["arg --metrics", "(set)", "", "", True],
            ["env GGML_CUDA_DISABLE_GRAPHS", "", "1", "", True],
            ["arg -m", m, m, "", False],
            ["arg -ngl", "99", "99", "", False],
            ["env CUDA_VISIBLE_DEVICES", "1", "1", "", False],
            ["model", m, m, "", False],
            ["model size", "7767000000", "7767000000", "", False],
            ["gpu", "NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4090", "", False],
            ["llama-server", "b6500", "b6500", "", False],
            ["nsys", "2025.1.3", "2025.1.3", "", False],
        ],
        columns=["setting", "on", "off", "bare", "differs"],
    )
    # A run without a record shows blanks and does not make every setting "differ".
    pd.testing.assert_frame_equal(frame, expected)
    two = config_diff({"on": FA_ON, "off": FA_OFF})
    pd.testing.assert_frame_equal(two, expected.drop(columns="bare"))


def test_diff_labels() -> None:
    """Labels say what differs: '-fa on' vs '-fa off'; absent flags and env read plainly."""
    assert diff_labels(
        {
            "a": {"server_args": {"-fa": "on", "-ngl": "99"}},
            "b": {"server_args": {"-fa": "off", "-ngl": "99"}},
        }
    ) == {
        "a": "-fa on",
        "b": "-fa off",
    }
    assert diff_labels({"on": FA_ON, "off": FA_OFF}) == {
        "on": "-fa on --metrics no GGML_CUDA_DISABLE_GRAPHS",
        "off": "-fa off no --metrics GGML_CUDA_DISABLE_GRAPHS=1",
    }
    same = {"server_args": {"-fa": "on"}}
    assert diff_labels({"r1": same, "r2": same, "x": None}) == {"r1": "r1", "r2": "r2", "x": "x"}
    assert diff_labels({"r1": same, "r2": same, "r3": {"server_args": {"-fa": "off"}}}) == {
        "r1": "-fa on",
        "r2": "-fa on #2",
        "r3": "-fa off",
    }


def _run(label: str, *, gpus=(), nsys=None, api: pd.DataFrame | None = None) -> Run:
    summaries = {} if api is None else {"cuda_api_sum": api}
    return Run(
        Path(f"{label}.sqlite"),
        ReportFormat.SQLITE,
        summaries=summaries,
        info=RunInfo(nsys_version=nsys, gpus=list(gpus)),
    )


def _api(rows: list[tuple[str, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": [r[0] for r in rows],
            "count": [r[1] for r in rows],
            "total_ns": [1000] * len(rows),
        }
    )


def test_comparability_warnings_all_kinds() -> None:
    """Each reason two runs are not comparable gives one warning, in a fixed order."""
    runs = {
        "a": _run(
            "a",
            gpus=["NVIDIA H100 80GB HBM3"],
            nsys="2025.1.3",
            api=_api([("cudaGraphLaunch", 1200), ("cudaLaunchKernel", 40)]),
        ),
        "b": _run(
            "b",
            gpus=["NVIDIA GeForce RTX 4090"],
            nsys="2025.5.1",
            api=_api([("cudaGraphLaunch", 800)]),
        ),
    }
    records = {
        "a": {
            "model": {"path": "/m/gemma-3-4b-it-f16.gguf", "size_bytes": 7_767_000_000},
            "workload": {"prompts": 4, "n_predict": 128},
            "env": {},
            "requests": [{"timings": {"cache_n": 0}}, {"timings": {"cache_n": 37}}],
        },
        "b": {
            "model": {"path": "/m/gemma-3-4b-it-Q4_K_M.gguf", "size_bytes": 2_489_000_000},
            "workload": {"prompts": 4, "n_predict": 256},
            "env": {"GGML_CUDA_DISABLE_GRAPHS": "1"},
            "commands": {"nsys": ["nsys", "profile", "--cuda-graph-trace=node", "-o", "b"]},
        },
    }
    warnings = comparability_warnings(runs, records)
    assert [w.kind for w in warnings] == [
        "gpu",
        "nsys",
        "model",
        "workload",
        "cuda-graphs",
        "graphs-env",
        "prompt-cache",
    ]
    assert [w.message for w in warnings] == [
        "Different GPUs: a: NVIDIA H100 80GB HBM3; b: NVIDIA GeForce RTX 4090.",
        "Different nsys versions: a: 2025.1.3; b: 2025.5.1.",
        "Different models: a: gemma-3-4b-it-f16.gguf (7,767,000,000 bytes); "
        "b: gemma-3-4b-it-Q4_K_M.gguf (2,489,000,000 bytes).",
        'Different workloads: a: {"n_predict":128,"prompts":4}; b: {"n_predict":256,"prompts":4}.',
        "a: 1,200 cudaGraphLaunch calls, traced at graph level: the kernels inside the graphs "
        "are missing from its kernel summary (capture with --cuda-graph-trace=node or "
        "GGML_CUDA_DISABLE_GRAPHS=1).",
        "GGML_CUDA_DISABLE_GRAPHS is set in b only, not in a: one side runs CUDA graphs, the "
        "other plain launches.",
        "a: 37 prompt tokens came from the prompt cache in 1 of 2 requests (timings.cache_n); "
        "its prompt processing is shorter than a cold run's (send cache_prompt: false).",
    ]
    assert warnings[4] == ComparabilityWarning("cuda-graphs", warnings[4].message, ("a",))


def test_node_level_tracing_is_read_from_the_nsys_command() -> None:
    """Only the record's nsys command counts: a prompt naming the option does not."""
    runs = {"a": _run("a", api=_api([("cudaGraphLaunch", 10)]))}
    prompt = {
        "workload": {"prompts": ["explain --cuda-graph-trace=node"]},
        "commands": {"nsys": ["nsys", "profile", "-o", "a", "llama-server"]},
        "log_tail": '"--cuda-graph-trace", "node"',
    }
    assert [w.kind for w in comparability_warnings(runs, {"a": prompt})] == ["cuda-graphs"]
    for nsys in (
        ["nsys", "profile", "--cuda-graph-trace=node", "llama-server"],
        ["nsys", "profile", "--cuda-graph-trace", "node", "llama-server"],
    ):
        record = {"commands": {"nsys": nsys}}
        assert comparability_warnings(runs, {"a": record}) == []


def test_no_warnings_for_like_runs() -> None:
    """Runs that agree, or that cannot tell, raise nothing; GPU falls back to the record."""
    runs = {"a": _run("a", nsys="2025.1.3"), "b": _run("b", nsys="2025.1.3"), "c": None}
    records = {
        "a": {"gpu": "RTX 4090", "env": {"GGML_CUDA_DISABLE_GRAPHS": "0"}},
        "b": {"gpu": "RTX 4090"},
        "c": None,
    }
    assert comparability_warnings(runs, records) == []
    records["b"] = {"gpu": "RTX 3090", "totals": {"cached_tokens": 12}}
    assert [w.message for w in comparability_warnings(runs, records)] == [
        "Different GPUs: a: RTX 4090; b: RTX 3090.",
        "b: 12 prompt tokens came from the prompt cache (timings.cache_n); its prompt "
        "processing is shorter than a cold run's (send cache_prompt: false).",
    ]


def test_real_runs_differ_in_nsys_version() -> None:
    """The seed (nsys 2025.1.3) and a GindaChen export (2026.2.1.210) are flagged."""
    seed = load_report(shared_file("stats-text/" + SEED_TEXT.name))
    after = load_report(shared_file("sqlite/GindaChen__nsys-ai__mfu_2gpu_after.sqlite"))
    warnings = comparability_warnings({"seed": seed, "after": after}, {"seed": None, "after": None})
    assert [w.message for w in warnings] == [
        "Different nsys versions: seed: 2025.1.3; after: 2026.2.1.210.",
    ]


def test_load_records_reads_the_record_beside_a_report(tmp_path: Path) -> None:
    """A run's capture record is read from <name>.llamaprof.json beside its report."""
    report = tmp_path / "fa-on.sqlite"
    report.write_bytes(b"")
    (tmp_path / "fa-on.llamaprof.json").write_text('{"totals": {"generated_tokens": 64}}')
    runs = {
        "fa-on": Run(report, ReportFormat.SQLITE),
        "other": Run(tmp_path / "other.sqlite", ReportFormat.SQLITE),
    }
    assert load_records(runs) == {"fa-on": {"totals": {"generated_tokens": 64}}, "other": None}


def test_safe_records_ignores_a_broken_record_with_one_line(tmp_path: Path) -> None:
    """A record that is not a JSON object counts as none, and one line says why."""
    (tmp_path / "good.llamaprof.json").write_text('{"totals": {"requests": 2}}')
    (tmp_path / "bad.llamaprof.json").write_text('"just text"')
    runs = {
        "good": Run(tmp_path / "good.sqlite", ReportFormat.SQLITE),
        "bad": Run(tmp_path / "bad.sqlite", ReportFormat.SQLITE),
    }
    with pytest.raises(LlamaprofError):
        load_records(runs)
    assert safe_records(runs) == (
        {"good": {"totals": {"requests": 2}}, "bad": None},
        ["bad: not a valid capture record: not a JSON object"],
    )


def test_repeat_groups() -> None:
    """Runs recorded as repeats of one config share a group; others stand alone."""
    records = {
        "on-1": {"repeat": {"group": "fa-on", "index": 1, "of": 2}},
        "off-1": {"repeat": {"group": "fa-off", "index": 1, "of": 2}},
        "on-2": {"repeat": {"group": "fa-on", "index": 2, "of": 2}},
        "off-2": {"repeat": {"group": "fa-off", "index": 2, "of": 2}},
        "single": None,
    }
    assert repeat_groups(records) == {
        "fa-on": ["on-1", "on-2"],
        "fa-off": ["off-1", "off-2"],
        "single": ["single"],
    }


def _frame(rows: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame({"name": list(rows), "total_ns": list(rows.values()), "count": 1})


def test_repeat_diff_marks_changes_within_spread_as_noise() -> None:
    """Means and sample standard deviations per group; a change within the spread is noise."""
    frames = {
        "on-1": _frame({"mmq": 100, "fa": 50, "old": 5}),
        "on-2": _frame({"mmq": 110, "fa": 54, "old": 5}),
        "off-1": _frame({"mmq": 104, "fa": 80, "soft_max": 30}),
        "off-2": _frame({"mmq": 108, "fa": 84}),
    }
    groups = {"fa-on": ["on-1", "on-2"], "fa-off": ["off-1", "off-2"]}
    diff = repeat_diff(frames, groups, "fa-on")
    s = math.sqrt(8.0)  # sample std of (100, 110) = 7.0711; of (50, 54) = (80, 84) = 2.8284
    expected = pd.DataFrame(
        {
            "name": ["fa", "soft_max", "old", "mmq"],
            "group": "fa-off",
            "n": 2,
            "mean": [82.0, 15.0, 0.0, 106.0],
            "std": [s, math.sqrt(450.0), 0.0, s],
            "baseline_n": 2,
            "baseline_mean": [52.0, 0.0, 5.0, 105.0],
            "baseline_std": [s, 0.0, 0.0, math.sqrt(50.0)],
            "delta": [30.0, 15.0, -5.0, 1.0],
            "delta_pct": [30.0 * 100 / 52, math.nan, -100.0, 100 / 105],
            "spread": [s, math.sqrt(450.0), 0.0, math.sqrt(50.0)],
            "noise": [False, True, False, True],
            "status": ["changed", "new", "missing", "changed"],
        }
    )
    pd.testing.assert_frame_equal(diff, expected)
    with pytest.raises(LlamaprofError, match="unknown baseline group 'nope'"):
        repeat_diff(frames, groups, "nope")


def test_repeat_long_is_shaped_like_compare_runs() -> None:
    """Group diffs reshape into compare_runs' columns, baseline rows included, by impact."""
    from llamaprof.analyze.compare import LONG_COLUMNS
    from llamaprof.analyze.fairness import repeat_long

    frames = {
        "on-1": _frame({"mmq": 100, "fa": 50}),
        "on-2": _frame({"mmq": 110, "fa": 54}),
        "off-1": _frame({"mmq": 104}),
        "off-2": _frame({"mmq": 108}),
    }
    groups = {"on": ["on-1", "on-2"], "off": ["off-1", "off-2"]}
    long = repeat_long(repeat_diff(frames, groups, "on"), "on", ["on", "off"])
    assert list(long.columns) == [*LONG_COLUMNS, "std", "n", "spread", "noise"]
    assert long[["name", "run", "value", "baseline_value", "delta", "status", "noise"]].to_dict(
        "records"
    ) == [
        {
            "name": "fa",
            "run": "on",
            "value": 52.0,
            "baseline_value": 52.0,
            "delta": 0.0,
            "status": "same",
            "noise": False,
        },
        {
            "name": "fa",
            "run": "off",
            "value": 0.0,
            "baseline_value": 52.0,
            "delta": -52.0,
            "status": "missing",
            "noise": False,
        },
        {
            "name": "mmq",
            "run": "on",
            "value": 105.0,
            "baseline_value": 105.0,
            "delta": 0.0,
            "status": "same",
            "noise": False,
        },
        {
            "name": "mmq",
            "run": "off",
            "value": 106.0,
            "baseline_value": 105.0,
            "delta": 1.0,
            "status": "changed",
            "noise": True,
        },
    ]
    assert long["impact"].tolist() == [52.0, 52.0, 1.0, 1.0]
