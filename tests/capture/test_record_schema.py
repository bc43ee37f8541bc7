"""Capture records of schema 1, as llamaprof 0.1 wrote them, read as schema 2 is.

Schema 1 wrote the set's time stamp as every run's ``repeat.group``, so an A/B set with
repeats was one group; ``read_record`` regroups such runs by set and config.
"""

from __future__ import annotations

import json
from pathlib import Path

from llamaprof.record import Clock, read_record

STAMP = "20250714-120000"


def schema1_record(name: str, config: list[str], repeat: int, port: int) -> dict:
    """A record as llamaprof 0.1's capture wrote it (the fields that matter here)."""
    server_args = {"-m": "/models/m.gguf", "-ngl": "99", config[0]: config[1],
                   "--host": "127.0.0.1", "--port": str(port)}  # fmt: skip
    return {
        "schema": 1,
        "name": name,
        "label": " ".join(config),
        "config": {"args": config, "env": {}},
        "server_args": server_args,
        "env": {"GGML_CUDA_DISABLE_GRAPHS": "1"},
        "model": {"path": "/models/m.gguf", "size_bytes": 1234},
        "workload": {"requests": 2, "concurrency": 1, "n_predict": 8, "stream": False},
        "requests": [
            {
                "index": i,
                "client": 0,
                "status": 200,
                "start_s": 0.01 + i,
                "elapsed_s": 0.5,
                "timings": {
                    "cache_n": 0,
                    "prompt_n": 12,
                    "prompt_ms": 3.0,
                    "predicted_n": 8,
                    "predicted_ms": 40.0,
                },
            }
            for i in range(2)
        ],
        "totals": {"requests": 2, "generated_tokens": 16},
        "repeat": {"group": STAMP, "index": repeat, "of": 2},
        "problems": [],
    }


def test_schema1_set_regroups_per_config(tmp_path: Path):
    """Four runs of one schema-1 set (two configs, two repeats): two groups of two, the
    user's settings without model, host or port, and no wall-clock times."""
    runs = {
        "a_fa-on_r1": (["-fa", "on"], 1),
        "a_fa-on_r2": (["-fa", "on"], 2),
        "a_fa-off_r1": (["-fa", "off"], 1),
        "a_fa-off_r2": (["-fa", "off"], 2),
    }
    for port, (name, (config, repeat)) in enumerate(runs.items(), start=8001):
        record = schema1_record(name, config, repeat, port)
        (tmp_path / f"{name}.llamaprof.json").write_text(json.dumps(record))
    typed = [read_record(tmp_path / f"{name}.nsys-rep") for name in runs]
    groups: dict[str, list[str]] = {}
    for t in typed:
        groups.setdefault(t.group, []).append(t.name)
    assert sorted(groups.values()) == [["a_fa-off_r1", "a_fa-off_r2"], ["a_fa-on_r1", "a_fa-on_r2"]]
    assert all(g.startswith(f"{STAMP}/") for g in groups)
    assert [(t.schema, t.set_id, t.config_index, t.repeat_index, t.repeat_of) for t in typed] == [
        (1, STAMP, None, 1, 2),
        (1, STAMP, None, 2, 2),
        (1, STAMP, None, 1, 2),
        (1, STAMP, None, 2, 2),
    ]
    assert [dict(t.settings) for t in typed] == [
        {"arg -ngl": "99", "arg -fa": fa, "env GGML_CUDA_DISABLE_GRAPHS": "1"}
        for fa in ("on", "on", "off", "off")
    ]
    for t in typed:
        assert t.timed is False and t.clock == Clock() and t.weights is None
        assert [(q.start_ns, q.elapsed_s, q.generated_tokens) for q in t.requests] == [
            (None, 0.5, 8),
            (None, 0.5, 8),
        ]
        assert (t.request_count, t.generated_tokens) == (2, 16)


def test_schema1_single_runs_of_two_sets_stay_apart(tmp_path: Path):
    """The same config captured in two sets: two groups (one per set), never merged."""
    for name, stamp in (("x", STAMP), ("y", "20250715-090000")):
        record = schema1_record(name, ["-fa", "on"], 1, 8001)
        record["repeat"] = {"group": stamp, "index": 1, "of": 1}
        (tmp_path / f"{name}.llamaprof.json").write_text(json.dumps(record))
    x, y = read_record(tmp_path / "x.sqlite"), read_record(tmp_path / "y.sqlite")
    assert x.group != y.group
    assert (x.group.split("/")[0], y.group.split("/")[0]) == (STAMP, "20250715-090000")


def test_fields_of_the_wrong_type_read_as_absent(tmp_path: Path):
    """A hand-edited record (``commands`` a list, ``workload`` a text): it still reads, with
    concurrency 1 and no nsys command, instead of failing on the first property read."""
    record = schema1_record("edited", ["-fa", "on"], 1, 8001)
    record["commands"] = ["nsys", "profile"]
    record["workload"] = "eight requests"
    (tmp_path / "edited.llamaprof.json").write_text(json.dumps(record))
    typed = read_record(tmp_path / "edited.sqlite")
    assert (typed.concurrency, typed.nsys_command) == (1, [])


def test_install_locations_in_the_environment_are_not_settings(tmp_path: Path):
    """CUDA_HOME and the like are recorded (``env``) but are not settings: two machines'
    install paths differ without their runs differing. CUDA_VISIBLE_DEVICES is a setting."""
    record = schema1_record("env", ["-fa", "on"], 1, 8001)
    record["env"] = {"CUDA_HOME": "/usr/local/cuda-12.4", "CUDA_VISIBLE_DEVICES": "1",
                     "GGML_CUDA_PATH": "/opt/x", "LLAMA_ARG_CACHE_DIR": "/tmp/c"}  # fmt: skip
    (tmp_path / "env.llamaprof.json").write_text(json.dumps(record))
    typed = read_record(tmp_path / "env.sqlite")
    assert dict(typed.settings) == {
        "arg -ngl": "99",
        "arg -fa": "on",
        "env CUDA_VISIBLE_DEVICES": "1",
    }
    assert sorted(typed.env) == [
        "CUDA_HOME",
        "CUDA_VISIBLE_DEVICES",
        "GGML_CUDA_PATH",
        "LLAMA_ARG_CACHE_DIR",
    ]


def test_a_schema1_record_without_its_config_groups_by_args_without_the_port(tmp_path: Path):
    """Without ``config``, a schema-1 record's config is its server args less the ones
    llamaprof chose (the port differs from run to run): two repeats stay one group."""
    for name, port in (("r1", 8001), ("r2", 8002)):
        record = schema1_record(name, ["-fa", "on"], 1, port)
        del record["config"]
        record["repeat"] = {"group": STAMP, "index": int(name[1]), "of": 2}
        (tmp_path / f"{name}.llamaprof.json").write_text(json.dumps(record))
    r1, r2 = read_record(tmp_path / "r1.sqlite"), read_record(tmp_path / "r2.sqlite")
    assert r1.group == r2.group
