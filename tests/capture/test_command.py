"""The pure parts of a capture: command lines, args, labels, names, records on disk."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from llamaprof.capture.command import (
    build_nsys_command,
    build_server_command,
    config_labels,
    nsys_profile_options,
    parse_server_args,
    slug,
)
from llamaprof.capture.config import CaptureConfig, Variant, Workload, parse_env
from llamaprof.capture.files import unique_name
from llamaprof.capture.runner import plan_runs
from llamaprof.capture.workload import check_loopback, request_body, summarize
from llamaprof.errors import ConfigError, ReportParseError
from llamaprof.record import read_record, record_path, record_rows, run_stem


def test_server_command_always_gets_loopback_host_and_port():
    """The server gets the model, the user's args, then --host 127.0.0.1 --port N."""
    assert build_server_command(
        "/bin/llama-server", "/m/a.gguf", ["-ngl", "99", "-fa", "on"], 8123
    ) == [
        "/bin/llama-server",
        "-m",
        "/m/a.gguf",
        "-ngl",
        "99",
        "-fa",
        "on",
        "--host",
        "127.0.0.1",
        "--port",
        "8123",
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["--host", "0.0.0.0"],
        ["--port", "80"],
        ["--port=80"],
        ["-m", "x.gguf"],
        ["--model", "x.gguf"],
    ],
)
def test_server_args_cannot_set_host_port_or_model(args):
    """Host, port and model belong to the capture; setting them in server args is an error."""
    with pytest.raises(ConfigError, match="remove"):
        build_server_command("s", "m", args, 1)


def test_nsys_command_defaults_suit_llama_server():
    """Default nsys options trace cuda,nvtx,osrt with no CPU sampling and no context-switch
    tracing; node-level graph tracing is one switch."""
    server = ["llama-server", "-m", "m.gguf"]
    assert build_nsys_command("nsys", "r/x", nsys_profile_options(), server) == [
        "nsys",
        "profile",
        "-o",
        "r/x",
        "--trace=cuda,nvtx,osrt",
        "--sample=none",
        "--cpuctxsw=none",
        "llama-server",
        "-m",
        "m.gguf",
    ]
    assert nsys_profile_options(cuda_graph_nodes=True) == [
        "--trace=cuda,nvtx,osrt",
        "--sample=none",
        "--cpuctxsw=none",
        "--cuda-graph-trace=node",
    ]


def test_user_nsys_options_replace_the_default_trace():
    """A user's -t/--trace replaces the default; other options are kept in order."""
    assert nsys_profile_options(["--trace=cuda", "--sample=none"]) == [
        "--cpuctxsw=none",
        "--trace=cuda",
        "--sample=none",
    ]
    assert nsys_profile_options(["--stats=false"]) == [
        "--trace=cuda,nvtx,osrt",
        "--sample=none",
        "--cpuctxsw=none",
        "--stats=false",
    ]
    with pytest.raises(ConfigError, match="-o/--output"):
        nsys_profile_options(["-o", "x"])
    with pytest.raises(ConfigError, match="node switch"):
        nsys_profile_options(["--cuda-graph-trace=graph"], cuda_graph_nodes=True)


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        # Sampling on: nsys then traces context switches the same way; no default is added.
        (["-s", "process-tree"], ["--trace=cuda,nvtx,osrt", "-s", "process-tree"]),
        (["--sample=system-wide"], ["--trace=cuda,nvtx,osrt", "--sample=system-wide"]),
        # Sampling off by the user's own option: context switches still off by default.
        (["-s", "none"], ["--trace=cuda,nvtx,osrt", "--cpuctxsw=none", "-s", "none"]),
        # Context switches asked for: sampling still off by default.
        (
            ["--cpuctxsw=process-tree"],
            ["--trace=cuda,nvtx,osrt", "--sample=none", "--cpuctxsw=process-tree"],
        ),
        # The last value given wins, as in nsys.
        (["-s", "none", "--sample=process-tree"], ["--trace=cuda,nvtx,osrt", "-s", "none", "--sample=process-tree"]),
    ],
)  # fmt: skip
def test_user_sampling_options_replace_the_defaults(user, expected):
    """-s/--sample and --cpuctxsw given by the user replace the defaults they concern."""
    assert nsys_profile_options(user) == expected


def test_parse_server_args():
    """Flags with values, bare flags, --k=v, negative numbers, repeats, and positionals."""
    assert parse_server_args(
        [
            "-m",
            "a.gguf",
            "-ngl",
            "99",
            "-fa",
            "on",
            "--metrics",
            "-t",
            "-1",
            "--ctx-size=0",
            "--lora",
            "a",
            "--lora",
            "b",
            "--no-mmap",
            "extra",
        ]
    ) == {
        "-m": "a.gguf",
        "-ngl": "99",
        "-fa": "on",
        "--metrics": True,
        "-t": "-1",
        "--ctx-size": "0",
        "--lora": ["a", "b"],
        "--no-mmap": "extra",
    }
    assert parse_server_args(["-fa", "-ngl", "1"]) == {"-fa": True, "-ngl": "1"}


def test_labels_are_the_differing_args():
    """A/B labels show only what differs; shared args and shared env drop out."""
    variants = [
        Variant(("-ngl", "99", "-fa", "on"), (("GGML_CUDA_DISABLE_GRAPHS", "1"),)),
        Variant(("-ngl", "99", "-fa", "off"), (("GGML_CUDA_DISABLE_GRAPHS", "1"),)),
        Variant(("-ngl", "99", "-fa", "on")),
    ]
    assert config_labels(variants) == [
        "GGML_CUDA_DISABLE_GRAPHS=1 -fa on",
        "GGML_CUDA_DISABLE_GRAPHS=1 -fa off",
        "-fa on",
    ]
    assert config_labels([Variant(("-fa", "on")), Variant(("-fa", "on"))]) == [
        "-fa on #1",
        "-fa on #2",
    ]


def test_variant_parse_splits_like_a_shell():
    """Leading KEY=VALUE words of a config are environment, the rest are server args."""
    v = Variant.parse("GGML_CUDA_DISABLE_GRAPHS=1 CUDA_VISIBLE_DEVICES=0 -fa on --alias 'a b'")
    assert v.args == ("-fa", "on", "--alias", "a b")
    assert v.env_dict == {"GGML_CUDA_DISABLE_GRAPHS": "1", "CUDA_VISIBLE_DEVICES": "0"}
    assert Variant.parse(v.text()) == v
    with pytest.raises(ConfigError, match="cannot split"):
        Variant.parse("-fa 'on")


def test_parse_env():
    """--env takes KEY=VALUE; anything else is an error naming the item."""
    assert parse_env(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(ConfigError, match="'novalue'"):
        parse_env(["novalue"])


def test_slug():
    """Labels become file-name-safe name parts."""
    assert slug("-fa on") == "fa-on"
    assert slug("GGML_CUDA_DISABLE_GRAPHS=1 -fa off") == "GGML_CUDA_DISABLE_GRAPHS-1_fa-off"
    assert slug("defaults") == "defaults"
    assert slug("-m /a/b c.gguf") == "m-a-b-c.gguf"


def test_plan_names_ab_with_repeats(tmp_path):
    """An A/B set with repeats gets one unique name per run, grouped, in order."""
    cfg = CaptureConfig(
        server="s",
        model="m",
        server_args=["-ngl", "99"],
        reports_dir=tmp_path,
        variants=[Variant.parse("-fa on"), Variant.parse("-fa off")],
        repeat=2,
    )
    (tmp_path / "20250714-120000_fa-on_r2.nsys-rep").write_text("taken")
    runs = plan_runs(cfg, datetime(2025, 7, 14, 12, 0, 0))
    assert [(r.name, r.label, r.repeat_index, r.repeat_of) for r in runs] == [
        ("20250714-120000_fa-on_r1", "-fa on", 1, 2),
        ("20250714-120000_fa-on_r2-2", "-fa on", 2, 2),
        ("20250714-120000_fa-off_r1", "-fa off", 1, 2),
        ("20250714-120000_fa-off_r2", "-fa off", 2, 2),
    ]
    assert runs[0].args == ("-ngl", "99", "-fa", "on")
    # One group per config, its repeats inside; the set is the capture's time stamp.
    assert [r.group for r in runs] == ["20250714-120000/1"] * 2 + ["20250714-120000/2"] * 2
    assert [(r.set_id, r.configs, r.config_index) for r in runs] == [
        ("20250714-120000", ("-fa on", "-fa off"), 0),
        ("20250714-120000", ("-fa on", "-fa off"), 0),
        ("20250714-120000", ("-fa on", "-fa off"), 1),
        ("20250714-120000", ("-fa on", "-fa off"), 1),
    ]


def test_plan_single_config_is_one_group(tmp_path):
    """A capture of one config is a set of one: one group, its label the whole config."""
    cfg = CaptureConfig(
        server="s", model="m", server_args=["-c", "512"], env={"GGML_X": "1"},
        reports_dir=tmp_path, repeat=3,
    )  # fmt: skip
    runs = plan_runs(cfg, datetime(2025, 7, 14, 12, 0, 0))
    assert [(r.name, r.group, r.repeat_index) for r in runs] == [
        ("20250714-120000_GGML_X-1_c-512_r1", "20250714-120000/1", 1),
        ("20250714-120000_GGML_X-1_c-512_r2", "20250714-120000/1", 2),
        ("20250714-120000_GGML_X-1_c-512_r3", "20250714-120000/1", 3),
    ]
    assert {(r.configs, r.config_index, r.args) for r in runs} == {
        (("GGML_X=1 -c 512",), 0, ("-c", "512"))
    }


def test_plan_single_named_run_keeps_its_name_unless_taken(tmp_path):
    """--name NAME is used as is, and never overwrites: a taken name gets -2."""
    cfg = CaptureConfig(server="s", model="m", reports_dir=tmp_path, name="baseline")
    assert [r.name for r in plan_runs(cfg)] == ["baseline"]
    (tmp_path / "baseline.llamaprof.json").write_text("{}")
    assert [r.name for r in plan_runs(cfg)] == ["baseline-2"]
    assert unique_name(tmp_path, "x", {"x", "x-2"}) == "x-3"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"workload": Workload(requests=0)}, "at least 1 request"),
        ({"workload": Workload(prompt="a", prompt_tokens=3)}, "not both"),
        ({"repeat": 0}, "repeat"),
        ({"port": 70000}, "not a TCP port"),
        ({"name": "../x"}, "run name"),
        ({"profile": False, "cuda_graph_nodes": True}, "--no-profile"),
    ],
)
def test_config_validation(changes, message):
    """Bad settings are refused before anything starts, with a one-line reason."""
    cfg = CaptureConfig(server="s", model="m", **changes)
    with pytest.raises(ConfigError, match=message):
        cfg.validate()


def test_only_loopback_is_contacted():
    """The workload refuses any address but loopback."""
    check_loopback("http://127.0.0.1:8080")
    check_loopback("http://localhost:1")
    with pytest.raises(ConfigError, match="loopback"):
        check_loopback("http://192.168.1.10:8080")


def test_request_body_is_deterministic_and_uncached():
    """Every request: temperature 0, a fixed seed, cache_prompt off, streamed (the first
    token is timed from the stream)."""
    assert request_body(Workload(n_predict=16), "hi") == {
        "prompt": "hi",
        "n_predict": 16,
        "temperature": 0.0,
        "seed": 42,
        "cache_prompt": False,
        "stream": True,
    }


def test_summarize_weights_by_tokens():
    """Totals add tokens and milliseconds; rates are tokens over summed time."""
    done = [
        {
            "timings": {
                "cache_n": 0,
                "prompt_n": 10,
                "prompt_ms": 10.0,
                "predicted_n": 4,
                "predicted_ms": 40.0,
            }
        },
        {
            "timings": {
                "cache_n": 2,
                "prompt_n": 30,
                "prompt_ms": 10.0,
                "predicted_n": 6,
                "predicted_ms": 60.0,
            }
        },
    ]
    assert summarize(done, 0.5) == {
        "requests": 2,
        "prompt_tokens": 40,
        "generated_tokens": 10,
        "cached_tokens": 2,
        "prompt_ms": 20.0,
        "predicted_ms": 100.0,
        "prompt_per_second": 2000.0,
        "predicted_per_second": 100.0,
        "wall_s": 0.5,
        "generated_per_wall_second": 20.0,
    }


def test_read_record_beside_report_export_or_itself(tmp_path):
    """read_record finds <stem>.llamaprof.json from any of the run's files."""
    (tmp_path / "run1.llamaprof.json").write_text(json.dumps({"name": "run1", "label": "-fa on"}))
    for name in ("run1.nsys-rep", "run1.sqlite", "run1.llamaprof.json"):
        assert read_record(tmp_path / name).data == {"name": "run1", "label": "-fa on"}
    assert record_path(tmp_path / "run1.qdrep") == tmp_path / "run1.llamaprof.json"
    assert run_stem("a.b.nsys-rep") == "a.b"
    assert read_record(tmp_path / "other.nsys-rep") is None


def test_read_record_rejects_a_corrupt_record(tmp_path):
    """A record that is not a JSON object is a ReportParseError naming the file."""
    (tmp_path / "bad.llamaprof.json").write_text("{not json")
    with pytest.raises(ReportParseError, match=r"bad\.llamaprof\.json: not a valid capture record"):
        read_record(tmp_path / "bad.sqlite")
    (tmp_path / "list.llamaprof.json").write_text("[1]")
    with pytest.raises(ReportParseError, match="not a JSON object"):
        read_record(tmp_path / "list.llamaprof.json")


def test_record_rows_table(tmp_path):
    """Every record in the folder becomes a row, newest first; a corrupt one says why."""
    (tmp_path / "a.llamaprof.json").write_text(
        json.dumps(
            {
                "name": "a",
                "label": "-fa on",
                "profiled": False,
                "started": "2025-07-14T12:00:00Z",
                "totals": {
                    "requests": 2,
                    "generated_tokens": 16,
                    "predicted_per_second": 80.0,
                    "prompt_per_second": 900.0,
                    "generated_per_wall_second": 70.0,
                },
                "report": None,
                "problems": [],
            }
        )
    )
    (tmp_path / "b.llamaprof.json").write_text(
        json.dumps(
            {
                "name": "b",
                "label": "-fa off",
                "profiled": True,
                "started": "2025-07-14T13:00:00Z",
                "totals": {},
                "report": "b.nsys-rep",
                "problems": ["x"],
            }
        )
    )
    (tmp_path / "c.llamaprof.json").write_text("{")
    rows = record_rows(tmp_path)
    assert [(r["run"], r["config"], r["report"], r["problem"]) for r in rows] == [
        ("b", "-fa off", "b.nsys-rep", "x"),
        ("a", "-fa on", None, None),
        (
            "c",
            None,
            None,
            "not a valid capture record: Expecting property name enclosed in "
            "double quotes: line 1 column 2 (char 1)",
        ),
    ]
    assert rows[1] == {
        "run": "a",
        "config": "-fa on",
        "profiled": False,
        "started": "2025-07-14T12:00:00Z",
        "requests": 2,
        "generated_tokens": 16,
        "generation_tok_s": 80.0,
        "prompt_tok_s": 900.0,
        "throughput_tok_s": 70.0,
        "report": None,
        "problem": None,
    }
