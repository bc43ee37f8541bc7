"""The parts of a fair comparison: normalisation, settings and labels, comparability warnings,
repeat groups (``llamaprof.analyze.normalize``, ``configs``, ``comparability``, ``compare``)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from llamaprof.analyze.comparability import ComparabilityWarning, comparability_warnings
from llamaprof.analyze.compare import LONG_COLUMNS, compare_groups
from llamaprof.analyze.comparison import prepare_comparison
from llamaprof.analyze.configs import config_diff, settings_labels
from llamaprof.analyze.normalize import (
    Normalize,
    divisor,
    normalization_caption,
    normalize_frames,
    require_divisors,
    unit_for,
)
from llamaprof.analyze.windows import parse_window
from llamaprof.errors import LlamaprofError, NotNormalizable
from llamaprof.events import Window
from llamaprof.loading import LoadedRun, load_entry
from llamaprof.model import ReportFormat, Run, RunInfo
from llamaprof.record import parse_record
from llamaprof.sources import load_report

from shared_data import SEED_TEXT, shared_file


def rec(data: dict | None, name: str = "r"):
    """A typed capture record from its JSON object (None stays None)."""
    return None if data is None else parse_record(data, f"{name}.llamaprof.json")


def _record(tokens: int | None = 512, requests: int = 4, **extra) -> dict:
    totals = {"requests": requests, "prompt_tokens": 100}
    if tokens is not None:
        totals["generated_tokens"] = tokens
    return {"totals": totals, **extra}


def test_divisor() -> None:
    """Per-token divides by generated tokens, per-request by requests; else None and why."""
    record = rec(_record(512, 4))
    assert divisor(record, "per-token") == (512.0, "tokens")
    assert divisor(record, Normalize.PER_REQUEST) == (4.0, "requests")
    assert divisor(record, "none") == (1.0, "")
    assert divisor(None, "none") == (1.0, "")
    assert divisor(None, "per-token") == (None, "no capture record")
    assert divisor(rec(_record(None)), "per-token") == (None, "no count of tokens")
    assert divisor(rec(_record(0)), "per-token") == (None, "no count of tokens")
    assert divisor(rec({"totals": {"generated_tokens": True}}), "per-token")[0] is None


def _timed(**requests) -> dict:
    """A schema-2 record: requests (start, first token, end, prompt_n, predicted_n)."""
    return {
        "schema": 2,
        "totals": {"requests": len(requests), "generated_tokens": 999},
        "requests": [
            {
                "start_ns": s,
                "first_token_ns": f,
                "end_ns": e,
                "timings": {"prompt_n": p, "predicted_n": n},
            }
            for s, f, e, p, n in requests.values()
        ],
    }


def test_divisor_follows_the_window() -> None:
    """Per token of a window: decode counts each request's tokens but the first, prefill the
    prompt tokens, request:N that request's; load and A:B windows have no count."""
    record = rec(_timed(a=(100, 150, 400, 32, 16), b=(500, 560, 900, 32, 8)))
    window = {name: Window(name, ((0, 10),)) for name in ("workload", "decode", "prefill", "load")}
    assert divisor(record, "per-token", window["workload"]) == (999.0, "tokens")
    assert divisor(record, "per-token", window["decode"]) == (15 + 7, "tokens")
    assert divisor(record, "per-token", window["prefill"]) == (64.0, "prompt tokens")
    assert divisor(record, "per-token", Window("request:2", ((500, 900),))) == (8.0, "tokens")
    assert divisor(record, "per-token", window["load"]) == (
        None,
        "no count of tokens in the load window",
    )
    assert divisor(record, "per-request", window["decode"]) == (2.0, "requests")
    assert divisor(record, "per-request", Window("request:2", ((500, 900),))) == (1.0, "requests")
    # two concurrent clients: the decode window leaves out the moments one request is in
    # prefill, yet every token would count: no per-token value there (workload still has one)
    both = rec({**_timed(a=(100, 150, 400, 32, 16), b=(120, 200, 450, 32, 8)),
                "workload": {"concurrency": 2}})  # fmt: skip
    assert divisor(both, "per-token", window["decode"]) == (
        None,
        "no count of tokens in the decode window (2 concurrent requests: decode time leaves "
        "out their prefill, their tokens would not)",
    )
    # nor in prefill: llama-server batches the others' decode steps with a prompt
    assert divisor(both, "per-token", window["prefill"]) == (
        None,
        "no count of prompt tokens in the prefill window (2 concurrent requests: its GPU work "
        "also decodes the requests past their prefill)",
    )
    assert divisor(both, "per-request", window["prefill"]) == (2.0, "requests")
    assert divisor(both, "per-token", window["workload"]) == (999.0, "tokens")


def test_require_divisors_names_the_runs_without_record() -> None:
    """The command line refuses per-token when a run has no record, naming it in one line."""
    with pytest.raises(NotNormalizable) as info:
        require_divisors({"a": rec(_record()), "b": None, "c": None}, "per-token")
    assert str(info.value) == (
        "--normalize per-token needs a capture record with generated tokens beside every run; "
        "b, c have none (use --normalize none)"
    )
    assert isinstance(info.value, LlamaprofError)
    with pytest.raises(NotNormalizable, match=r"; b has none \(use --normalize none\)$"):
        require_divisors({"a": rec(_record()), "b": None}, "per-request")
    with pytest.raises(NotNormalizable) as counted:
        require_divisors({"a": rec(_record()), "c": rec(_record(0))}, "per-token")
    assert str(counted.value) == (
        "--normalize per-token: c has no count of tokens (use --normalize none, or another window)"
    )
    assert require_divisors({"a": rec(_record(512)), "b": rec(_record(256))}, "per-token") == {
        "a": (512.0, "tokens"),
        "b": (256.0, "tokens"),
    }


def test_normalize_frames_and_caption() -> None:
    """Totals are divided per run; counts are not; runs without a divisor keep totals."""
    frame = pd.DataFrame({"name": ["k1", "k2"], "total_ns": [1000, 300], "count": [10, 3]})
    out = normalize_frames({"a": frame, "b": frame, "c": frame}, {"a": 4.0, "c": 1.0})
    assert out["a"]["total_ns"].tolist() == [250.0, 75.0]
    assert out["a"]["count"].tolist() == [10, 3]
    assert out["b"]["total_ns"].tolist() == [1000, 300]
    assert out["c"]["total_ns"].dtype == "int64"  # dividing by 1 keeps exact integers
    assert frame["total_ns"].tolist() == [1000, 300]
    assert normalization_caption("per-token", {"a": (512.0, "tokens"), "b": (480.0, "tokens")}) == (
        "Per generated token: a ÷ 512 tokens; b ÷ 480 tokens."
    )
    assert normalization_caption("per-request", {"a": (4.0, "requests")}) == (
        "Per request: a ÷ 4 requests."
    )
    assert normalization_caption("none", {}) == "Totals over the whole capture (not normalised)."
    assert normalization_caption("none", {}, "decode") == (
        "Totals over the decode window (not normalised)."
    )
    assert normalization_caption("per-token", {"a": (22.0, "tokens")}, "decode") == (
        "Per generated token in the decode window: a ÷ 22 tokens."
    )
    assert normalization_caption("per-token", {"a": (64.0, "prompt tokens")}, "prefill") == (
        "Per prompt token in the prefill window: a ÷ 64 prompt tokens."
    )


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


def test_settings_and_facts() -> None:
    """A record's args and env read as settings, bare flags as (set); model, GPU and versions
    as facts; what llamaprof chose itself (-m, --host, --port) is never a setting."""
    on = rec(FA_ON)
    assert on.settings == {
        "arg -ngl": "99",
        "arg -fa": "on",
        "arg --metrics": "(set)",
        "env CUDA_VISIBLE_DEVICES": "1",
    }
    assert on.facts == {
        "model": "/models/gemma-3-4b-it-f16.gguf",
        "model size": "7767000000",
        "gpu": "NVIDIA GeForce RTX 4090",
        "llama-server": "b6500",
        "nsys": "2025.1.3",
    }
    argv = ["-fa", "on", "-t", "-1", "--metrics", "--ctx-size=0", "--host", "127.0.0.1"]
    assert rec({"server_args": [*argv, "--port", "36081"]}).settings == {
        "arg -fa": "on",
        "arg -t": "-1",
        "arg --metrics": "(set)",
        "arg --ctx-size": "0",
    }
    # schema 2 names the user's own args apart from the command line llamaprof ran
    chosen = rec({"schema": 2, "settings": {"args": ["-fa", "off"]}, "server_args": argv})
    assert chosen.settings == {"arg -fa": "off"}


def test_config_diff() -> None:
    """Settings side by side, the differing ones first and marked."""
    frame = config_diff({"on": rec(FA_ON), "off": rec(FA_OFF), "bare": None})
    m = "/models/gemma-3-4b-it-f16.gguf"
    expected = pd.DataFrame(
        [
            ["arg -fa", "on", "off", "", True],
            ["arg --metrics", "(set)", "", "", True],
            ["env GGML_CUDA_DISABLE_GRAPHS", "", "1", "", True],
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
    two = config_diff({"on": rec(FA_ON), "off": rec(FA_OFF)})
    pd.testing.assert_frame_equal(two, expected.drop(columns="bare"))


def test_settings_labels() -> None:
    """Labels say what differs: '-fa on' vs '-fa off'; absent flags and env read plainly."""
    a = rec({"server_args": {"-fa": "on", "-ngl": "99", "--port": "1"}})
    b = rec({"server_args": {"-fa": "off", "-ngl": "99", "--port": "2"}})
    assert settings_labels({"a": a, "b": b}) == {"a": "-fa on", "b": "-fa off"}
    assert settings_labels({"on": rec(FA_ON), "off": rec(FA_OFF)}) == {
        "on": "-fa on --metrics no GGML_CUDA_DISABLE_GRAPHS",
        "off": "-fa off no --metrics GGML_CUDA_DISABLE_GRAPHS=1",
    }
    same = rec({"server_args": {"-fa": "on"}})
    assert settings_labels({"r1": same, "r2": same, "x": None}) == {"r1": "", "r2": "", "x": ""}


def test_labels_of_a_comparison(tmp_path: Path) -> None:
    """One labelling rule: configs by what differs, a config's runs by repeat index, runs
    without a record by file name."""

    def entry(name: str, data: dict | None) -> LoadedRun:
        return LoadedRun(name, tmp_path / f"{name}.sqlite", None, rec(data, name))

    same = {"server_args": {"-fa": "on"}}
    runs = [entry("r1", same), entry("r2", same), entry("r3", {"server_args": {"-fa": "off"}})]
    comparison = prepare_comparison(runs)
    assert list(comparison.members) == ["-fa on", "-fa on #2", "-fa off"]
    assert comparison.groups == {
        "-fa on": ["-fa on"],
        "-fa on #2": ["-fa on #2"],
        "-fa off": ["-fa off"],
    }
    mixed = prepare_comparison([entry("r1", same), entry("x", None)])
    assert list(mixed.members) == ["r1", "x"]  # not every run has a record: file names


def test_one_config_captured_in_two_sets_reads_its_set(tmp_path: Path) -> None:
    """A set of ``-fa on``/``-fa off`` with two repeats each, and a single ``-fa on`` capture
    of another set: the two ``-fa on`` columns name their set instead of reading like a
    repeat (``-fa on #2``) of each other."""

    def entry(name: str, fa: str, set_id: str, index: int, of: int) -> LoadedRun:
        data = {
            "schema": 2,
            "name": name,
            "settings": {"args": ["-fa", fa], "env": {}},
            "repeat": {"group": f"{set_id}/{fa}", "index": index, "of": of},
            "set": {"id": set_id},
        }
        return LoadedRun(name, tmp_path / f"{name}.sqlite", None, rec(data, name))

    runs = [
        entry("a-on-1", "on", "20261204-204349", 1, 2),
        entry("a-on-2", "on", "20261204-204349", 2, 2),
        entry("a-off-1", "off", "20261204-204349", 1, 2),
        entry("a-off-2", "off", "20261204-204349", 2, 2),
        entry("b-on", "on", "20261205-101500", 1, 1),
    ]
    comparison = prepare_comparison(runs)
    assert comparison.groups == {
        "-fa on [20261204-204349]": ["-fa on [20261204-204349] #1", "-fa on [20261204-204349] #2"],
        "-fa off": ["-fa off #1", "-fa off #2"],
        "-fa on [20261205-101500]": ["-fa on [20261205-101500]"],
    }
    by_run = prepare_comparison(runs, repeats=False)
    assert list(by_run.members) == [
        "-fa on [20261204-204349] #1",
        "-fa on [20261204-204349] #2",
        "-fa off #1",
        "-fa off #2",
        "-fa on [20261205-101500]",
    ]


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
    warnings = comparability_warnings(runs, {k: rec(v, k) for k, v in records.items()})
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
    assert [w.kind for w in comparability_warnings(runs, {"a": rec(prompt)})] == ["cuda-graphs"]
    for nsys in (
        ["nsys", "profile", "--cuda-graph-trace=node", "llama-server"],
        ["nsys", "profile", "--cuda-graph-trace", "node", "llama-server"],
    ):
        record = rec({"commands": {"nsys": nsys}})
        assert comparability_warnings(runs, {"a": record}) == []


def test_node_level_tracing_is_read_from_the_export() -> None:
    """Kernels with a graphNodeId in the export are graph nodes traced one by one: no
    warning, whatever the record says (or without one); graph launches under other ABI names
    (``cudaGraphLaunch_v10000``) count as launches."""
    api = _api([("cudaGraphLaunch_v10000", 10)])
    runs = {"a": _run("a", api=api)}
    assert [w.kind for w in comparability_warnings(runs, {"a": None})] == ["cuda-graphs"]
    runs["a"].info.graph_nodes_traced = True
    assert comparability_warnings(runs, {"a": None}) == []


def test_no_warnings_for_like_runs() -> None:
    """Runs that agree, or that cannot tell, raise nothing; GPU falls back to the record."""
    runs = {"a": _run("a", nsys="2025.1.3"), "b": _run("b", nsys="2025.1.3"), "c": None}
    records = {
        "a": {"gpu": "RTX 4090", "env": {"GGML_CUDA_DISABLE_GRAPHS": "0"}},
        "b": {"gpu": "RTX 4090"},
        "c": None,
    }
    typed = {k: rec(v, k) for k, v in records.items()}
    assert comparability_warnings(runs, typed) == []
    typed["b"] = rec({"gpu": "RTX 3090", "totals": {"cached_tokens": 12}}, "b")
    assert [w.message for w in comparability_warnings(runs, typed)] == [
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


def test_one_run_as_export_and_as_stats_text_is_one_nsys_release() -> None:
    """The golden pair (one run: its SQLite export says 2022.4.2.1, the `nsys stats` text of
    it 2022.4.2) is one release: no warning. Releases that differ where both say are."""
    export = load_report(shared_file("sqlite/Pandananana__python-hpc__q1_1.sqlite"))
    text = load_report(shared_file("stats-text/Pandananana__python-hpc__q1_2.sh.stats.txt"))
    assert (export.info.nsys_version, text.info.nsys_version) == ("2022.4.2.1", "2022.4.2")
    assert comparability_warnings({"export": export, "text": text}, {}) == []
    older = _run("older", nsys="2022.4.1.21")
    (warning,) = comparability_warnings({"export": export, "older": older}, {})
    assert warning.message == "Different nsys versions: export: 2022.4.2.1; older: 2022.4.1.21."


def test_load_entry_reads_the_record_beside_a_report(
    tmp_path: Path, fa_pair: tuple[Path, Path]
) -> None:
    """A run's capture record is read once from <name>.llamaprof.json beside its report."""
    on, off = fa_pair
    (tmp_path / "fa-on.llamaprof.json").write_text('{"totals": {"generated_tokens": 64}}')
    entry = load_entry(on)
    assert entry.key == str(on) and entry.run is not None
    assert entry.record is not None and entry.record.generated_tokens == 64
    assert entry.record_problem is None
    assert load_entry(off).record is None


def test_load_entry_ignores_a_broken_record_with_one_line(
    tmp_path: Path, fa_pair: tuple[Path, Path]
) -> None:
    """A record that is not a JSON object counts as none, and one line says why."""
    (tmp_path / "fa-on.llamaprof.json").write_text('"just text"')
    entry = load_entry(fa_pair[0])
    assert entry.record is None
    assert entry.record_problem == "not a valid capture record: not a JSON object"
    with pytest.raises(LlamaprofError, match="not a valid capture record: not a JSON object"):
        load_entry(tmp_path / "fa-on.llamaprof.json")  # a record asked for by name must read


def test_load_entry_of_a_record_alone_and_with_its_export(
    tmp_path: Path, fa_pair: tuple[Path, Path]
) -> None:
    """A record from a --no-profile capture loads alone; one whose capture left a report
    beside it loads that too."""
    alone = tmp_path / "np.llamaprof.json"
    alone.write_text('{"schema": 2, "name": "np", "profiled": false}')
    entry = load_entry(alone)
    assert (entry.run, entry.record.name, entry.file_label) == (None, "np", "np")
    beside = tmp_path / "fa-on.llamaprof.json"
    beside.write_text('{"name": "fa-on", "report": "fa-on.txt"}')
    assert load_entry(beside).run is not None


def test_groups_per_config(tmp_path: Path) -> None:
    """Runs recorded as repeats of one config are one column; schema-1 records, whose group
    was the whole set, are regrouped by set and config."""

    def entry(name: str, group: str, fa: str, index: int) -> LoadedRun:
        data = {
            "server_args": {"-fa": fa},
            "config": {"args": ["-fa", fa], "env": {}},
            "repeat": {"group": group, "index": index, "of": 2},
        }
        return LoadedRun(name, tmp_path / f"{name}.sqlite", None, rec(data, name))

    stamp = "20261204-204349"  # schema 1: the set's stamp for every run
    runs = [
        entry("on-1", stamp, "on", 1),
        entry("off-1", stamp, "off", 1),
        entry("on-2", stamp, "on", 2),
        entry("off-2", stamp, "off", 2),
        LoadedRun("single", tmp_path / "single.sqlite", None, None),
    ]
    comparison = prepare_comparison(runs, labels="config")
    assert comparison.groups == {
        "-fa on": ["-fa on #1", "-fa on #2"],
        "-fa off": ["-fa off #1", "-fa off #2"],
        "single": ["single"],
    }
    assert comparison.baseline == "-fa on"


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
    long = compare_groups(frames, groups, "fa-on")
    diff = long[long["run"] == "fa-off"].set_index("name")
    s = math.sqrt(8.0)  # sample std of (100, 110) = 7.0711; of (50, 54) = (80, 84) = 2.8284
    expected = pd.DataFrame(
        {
            "name": ["mmq", "fa", "soft_max", "old"],  # by impact: max(|delta|, value)
            "n": 2,
            "value": [106.0, 82.0, 15.0, 0.0],
            "std": [s, s, math.sqrt(450.0), 0.0],
            "baseline_value": [105.0, 52.0, 0.0, 5.0],
            "delta": [1.0, 30.0, 15.0, -5.0],
            "delta_pct": [100 / 105, 30.0 * 100 / 52, math.nan, -100.0],
            "spread": [math.sqrt(50.0), s, math.sqrt(450.0), 0.0],
            "noise": [True, False, True, False],
            "status": ["changed", "changed", "new", "missing"],
        }
    ).set_index("name")
    pd.testing.assert_frame_equal(diff[expected.columns], expected)
    with pytest.raises(ValueError, match="baseline 'nope' is not one of the runs"):
        compare_groups(frames, groups, "nope")


def test_groups_and_single_runs_share_one_frame() -> None:
    """Groups and single runs compare in one frame, baseline rows included, by impact."""
    frames = {
        "on-1": _frame({"mmq": 100, "fa": 50}),
        "on-2": _frame({"mmq": 110, "fa": 54}),
        "off-1": _frame({"mmq": 104}),
        "off-2": _frame({"mmq": 108}),
    }
    groups = {"on": ["on-1", "on-2"], "off": ["off-1", "off-2"]}
    long = compare_groups(frames, groups, "on")
    assert list(long.columns) == LONG_COLUMNS
    assert long[["name", "run", "value", "baseline_value", "delta", "status", "noise"]].to_dict(
        "records"
    ) == [
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
    ]
    assert long["impact"].tolist() == [106.0, 106.0, 52.0, 52.0]
    single = compare_groups(frames, {"on-1": ["on-1"], "off-1": ["off-1"]}, "on-1")
    assert single["value"].dtype == "int64" and single["n"].tolist() == [1, 1, 1, 1]


def test_a_window_found_differently_per_run_is_a_warning(tmp_path: Path) -> None:
    """One export with its capture record and the same export without: ``workload`` comes
    from the record for one ([1.30 s, 1.52 s)) and is detected for the other (from the
    upload's end), so the comparison says its bounds may not mark the same part."""
    example = Path(__file__).resolve().parents[2] / "reports" / "serving-timeline-generated"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for suffix in (".sqlite", ".llamaprof.json"):
        (tmp_path / "a" / f"rec{suffix}").write_bytes(example.with_suffix(suffix).read_bytes())
    (tmp_path / "b" / "det.sqlite").write_bytes(example.with_suffix(".sqlite").read_bytes())
    entries = [load_entry(tmp_path / "a" / "rec.sqlite"), load_entry(tmp_path / "b" / "det.sqlite")]
    comparison = prepare_comparison(entries, window=parse_window("workload"))
    assert {m.label: m.window.source for m in comparison.members.values()} == {
        "rec": "record",
        "det": "detected",
    }
    (warning,) = [w for w in comparison.warnings if w.kind == "window"]
    assert warning == ComparabilityWarning(
        "window",
        "The workload window is found differently: from the capture record for rec; detected "
        "from the GPU work for det. Its bounds may not mark the same part of each capture.",
        ("rec", "det"),
    )
    same = prepare_comparison(entries, window=parse_window("1s:2s"))
    assert not [w for w in same.warnings if w.kind == "window"]  # typed bounds: no source
