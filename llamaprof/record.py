"""The capture record beside a report, ``<name>.llamaprof.json``: its schema, read and typed once.

``llamaprof capture`` writes one JSON object per run (``llamaprof.capture.runner``); everything
else reads it through ``read_record``, which returns a ``CaptureRecord``: the facts the
comparison, the phases and the app need, parsed once, with the raw JSON kept in ``data``.

Schema 2 (written since llamaprof 0.2.0) adds, beside everything of schema 1:

- ``set`` {``id``: the capture's time stamp, ``configs``: every config label of the set,
  ``config_index``: 0-based}; ``repeat`` {``group``: ``<set id>/<config index + 1>``, one
  group per config of a set, ``index``, ``of``};
- ``settings`` {``args``: the server args the user chose (shared, then the config's), ``env``:
  the environment the user set}: what a run *is*, without what llamaprof chose itself (model
  path, host, port, output names, its own nsys options);
- ``clock`` {``capture_start_ns``, ``server_ready_ns``, ``workload_start_ns``,
  ``workload_end_ns``, ``stop_ns``}: wall-clock marks (``time.time_ns()``);
- per request ``start_ns``, ``first_token_ns`` (first streamed token), ``end_ns``: wall-clock
  nanoseconds, aligned to the nsys timeline through the export's session start
  (``TARGET_INFO_SESSION_START_TIME.utcEpochNs``);
- ``model.weights``: tensor bytes from the GGUF header (``llamaprof.gguf``), or null.

Schema 1 records (one ``repeat.group`` for a whole A/B set, request times as ``perf_counter``
offsets) are read too: their runs are regrouped by set stamp and config, and they have no
wall-clock times (phases then come from the export alone).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llamaprof.errors import ReportParseError
from llamaprof.server_args import POSITIONAL, parse_server_args

__all__ = [
    "FLAG_SET",
    "OWN_SERVER_FLAGS",
    "RECORD_SUFFIX",
    "REPORT_SUFFIX",
    "SCHEMA",
    "SQLITE_SUFFIX",
    "CaptureRecord",
    "Clock",
    "ModelWeights",
    "Request",
    "list_records",
    "parse_record",
    "read_record",
    "record_path",
    "record_row",
    "record_rows",
    "run_stem",
]

#: The schema ``llamaprof capture`` writes now.
SCHEMA = 2
RECORD_SUFFIX = ".llamaprof.json"
REPORT_SUFFIX = ".nsys-rep"
SQLITE_SUFFIX = ".sqlite"
_RUN_SUFFIXES = (RECORD_SUFFIX, REPORT_SUFFIX, ".qdrep", SQLITE_SUFFIX)

#: Server flags llamaprof sets itself in a capture: never a difference between configs.
OWN_SERVER_FLAGS = frozenset({"-m", "--model", "--host", "--port"})


def run_stem(path: str | Path) -> str:
    """The run name a file belongs to.

    >>> run_stem("r/a.nsys-rep"), run_stem("a.sqlite"), run_stem("a.llamaprof.json")
    ('a', 'a', 'a')
    """
    name = Path(path).name
    for suffix in _RUN_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


def record_path(path: str | Path) -> Path:
    """Where the record of the run that ``path`` (report, export or record) belongs to is."""
    path = Path(path)
    return path.with_name(run_stem(path) + RECORD_SUFFIX)


# --- the typed record --------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request of the workload. Times are wall-clock ns (``time.time_ns()``), None in
    schema-1 records; token counts and ms are llama-server's own ``timings``."""

    index: int  # 0-based, in the order the workload sent them
    start_ns: int | None = None
    first_token_ns: int | None = None  # the first streamed token arrived
    end_ns: int | None = None
    prompt_tokens: int | None = None  # timings.prompt_n
    generated_tokens: int | None = None  # timings.predicted_n
    cached_tokens: int = 0  # timings.cache_n
    prompt_ms: float | None = None
    predicted_ms: float | None = None
    elapsed_s: float | None = None  # as the client measured it


@dataclass(frozen=True)
class Clock:
    """Wall-clock marks of a capture (ns since the epoch); None where not recorded."""

    capture_start_ns: int | None = None  # just before nsys (or llama-server) was started
    server_ready_ns: int | None = None  # /health answered 200
    workload_start_ns: int | None = None
    workload_end_ns: int | None = None
    stop_ns: int | None = None  # SIGINT sent to llama-server


@dataclass(frozen=True)
class ModelWeights:
    """What the GGUF header says about the model's tensors (bytes)."""

    tensor_bytes: int  # every tensor
    token_embd_bytes: int = 0  # the embedding table: a decode step reads one row of it
    output_tied: bool = False  # no output.weight: the embedding is the output head too
    expert_tensor_bytes: int = 0  # MoE expert tensors (``*_exps``)
    expert_count: int | None = None
    expert_used_count: int | None = None
    architecture: str | None = None

    @property
    def decode_bytes(self) -> int:
        """Weight bytes one decode step reads: every tensor but the embedding table (unless it
        is also the output head), and of the expert tensors only the share of the experts used.
        A lower bound of the bytes moved (the KV cache comes on top)."""
        total = self.tensor_bytes
        if not self.output_tied:
            total -= self.token_embd_bytes
        if self.expert_tensor_bytes and self.expert_count and self.expert_used_count:
            unused = self.expert_count - self.expert_used_count
            total -= self.expert_tensor_bytes * unused // self.expert_count
        return total


@dataclass(frozen=True)
class CaptureRecord:
    """One capture record, typed. ``data`` is the JSON object as written.

    ``group`` identifies the repeats of one config: ``<set id>/<n>``; schema-1 records, which
    wrote one group per set, are regrouped here by set stamp and config. ``settings`` holds
    what the user chose (``arg -fa`` -> ``on``, ``env GGML_CUDA_DISABLE_GRAPHS`` -> ``1``),
    never what llamaprof chose itself (``OWN_SERVER_FLAGS``); ``facts`` what the run ran on
    (``model``, ``model size``, ``gpu``, ``workload``, ``llama-server``, ``nsys``).
    """

    path: Path
    data: Mapping[str, Any]
    schema: int
    name: str
    label: str | None
    group: str
    set_id: str | None
    config_index: int | None
    repeat_index: int | None
    repeat_of: int | None
    settings: Mapping[str, str]
    facts: Mapping[str, str]
    env: Mapping[str, str]
    requests: tuple[Request, ...]
    totals: Mapping[str, Any]
    clock: Clock
    profiled: bool | None
    gpus: tuple[Mapping[str, Any], ...]
    weights: ModelWeights | None
    problems: tuple[str, ...] = field(default=())

    @property
    def generated_tokens(self) -> int | None:
        """Tokens generated over the whole workload (``totals.generated_tokens``)."""
        return _positive_int(self.totals.get("generated_tokens"))

    @property
    def request_count(self) -> int | None:
        """Requests of the workload (``totals.requests``)."""
        return _positive_int(self.totals.get("requests"))

    @property
    def timed(self) -> bool:
        """True when every request has wall-clock start and end times (schema 2)."""
        return bool(self.requests) and all(
            r.start_ns is not None and r.end_ns is not None for r in self.requests
        )

    @property
    def concurrency(self) -> int:
        """Concurrent clients of the workload (1 when not recorded)."""
        value = _dict(self.data.get("workload")).get("concurrency")
        return value if isinstance(value, int) and value > 0 else 1

    @property
    def nsys_command(self) -> list[str]:
        """The ``nsys profile`` command line as run ([] without a profiler)."""
        command = _dict(self.data.get("commands")).get("nsys") or []
        return [str(token) for token in command] if isinstance(command, list | tuple) else []


def _positive_int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return None
    return int(value)


def read_record(path: str | Path) -> CaptureRecord | None:
    """The capture record beside a report, an export, or the record itself; None if none.

    Raises ReportParseError when the record exists but cannot be read as a record.
    """
    target = record_path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ReportParseError(target, f"cannot read the capture record: {exc}") from None
    except UnicodeDecodeError:
        raise ReportParseError(target, "not a valid capture record: not UTF-8 text") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ReportParseError(target, f"not a valid capture record: {exc}") from None
    if not isinstance(data, dict):
        raise ReportParseError(target, "not a valid capture record: not a JSON object")
    return parse_record(data, target)


def parse_record(data: Mapping[str, Any], path: str | Path) -> CaptureRecord:
    """A ``CaptureRecord`` from a record's JSON object (schema 1 or 2).

    Fields of the wrong type are taken as absent, never guessed: a record edited by hand
    still reads, with less in it. Raises ReportParseError for a record of a newer schema.
    """
    path = Path(path)
    schema = data.get("schema", 1)
    if not isinstance(schema, int) or schema < 1:
        raise ReportParseError(path, f"not a valid capture record: schema {schema!r}")
    if schema > SCHEMA:
        raise ReportParseError(
            path,
            f"capture record of schema {schema}, written by a newer llamaprof "
            f"(this one reads up to {SCHEMA}); upgrade llamaprof",
        )
    name = _str(data.get("name")) or run_stem(path)
    repeat = _dict(data.get("repeat"))
    set_info = _dict(data.get("set"))
    set_id = _str(set_info.get("id")) or _str(repeat.get("group"))
    config_index = _int(set_info.get("config_index"))
    if schema >= 2 and _str(repeat.get("group")):
        group = str(repeat["group"])
    elif set_id:
        # Schema 1 wrote the set's stamp as every run's group: one group per config instead.
        group = f"{set_id}/{_config_key(data)}"
    else:
        group = name
    env = {str(k): _text(v) for k, v in _dict(data.get("env")).items()}
    return CaptureRecord(
        path=path,
        data=data,
        schema=schema,
        name=name,
        label=_str(data.get("label")),
        group=group,
        set_id=set_id,
        config_index=config_index,
        repeat_index=_int(repeat.get("index")),
        repeat_of=_int(repeat.get("of")),
        settings=_settings(data, env),
        facts=_facts(data),
        env=env,
        requests=tuple(_request(i, r) for i, r in enumerate(_list(data.get("requests")))),
        totals=_dict(data.get("totals")),
        clock=_clock(_dict(data.get("clock"))),
        profiled=data.get("profiled") if isinstance(data.get("profiled"), bool) else None,
        gpus=tuple(g for g in _list(data.get("gpu")) if isinstance(g, dict)),
        weights=_weights(_dict(_dict(data.get("model")).get("weights"))),
        problems=tuple(str(p) for p in _list(data.get("problems"))),
    )


def _config_key(data: Mapping[str, Any]) -> str:
    """What a schema-1 record's config was (its ``config`` args and env), as stable text."""
    config = _dict(data.get("config"))
    if config:
        return json.dumps(
            {"args": _list(config.get("args")), "env": _dict(config.get("env"))}, sort_keys=True
        )
    args = {k: v for k, v in _dict(data.get("server_args")).items() if k not in OWN_SERVER_FLAGS}
    return json.dumps(args, sort_keys=True)


#: The text of a bare flag (``--metrics``) in settings; labels show the flag alone.
FLAG_SET = "(set)"


def _arg_text(value: Any) -> str:
    if value is True:
        return FLAG_SET
    if isinstance(value, list | tuple):  # a repeated flag: its values in order
        return " ".join(_arg_text(v) for v in value)
    return _text(value)


def _settings(data: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """``arg <flag>`` and ``env <NAME>`` -> text: the user's choices, not llamaprof's own."""
    chosen = _dict(data.get("settings"))
    if isinstance(chosen.get("args"), list):
        parsed: Mapping[str, Any] = parse_server_args([str(a) for a in chosen["args"]])
    else:
        server_args = data.get("server_args")
        if isinstance(server_args, list):
            parsed = parse_server_args([str(a) for a in server_args])
        else:
            parsed = _dict(server_args)
    settings = {
        f"arg {key}": _arg_text(value)
        for key, value in parsed.items()
        if key != POSITIONAL and key not in OWN_SERVER_FLAGS
    }
    for key, value in sorted(env.items()):
        if not key.endswith(_LOCATION_SUFFIXES):
            settings[f"env {key}"] = value
    return settings


#: Environment variables that say where something is installed (CUDA_HOME, CUDA_PATH, ...),
#: recorded with the GGML_/LLAMA_ARG_/CUDA_ variables in effect, but not a setting: two
#: machines' install paths differ without the runs differing.
_LOCATION_SUFFIXES = ("_HOME", "_PATH", "_ROOT", "_DIR")


def _facts(data: Mapping[str, Any]) -> dict[str, str]:
    facts: dict[str, str] = {}
    model = data.get("model")
    if isinstance(model, dict):
        if model.get("path") is not None:
            facts["model"] = str(model["path"])
        if model.get("size_bytes") is not None:
            facts["model size"] = str(model["size_bytes"])
    elif model:
        facts["model"] = str(model)
    for key in ("gpu", "workload"):
        if data.get(key) not in (None, "", {}, []):
            facts[key] = _text(data[key])
    versions = _dict(data.get("versions"))
    for key, title in (("llama_server", "llama-server"), ("nsys", "nsys")):
        if versions.get(key):
            facts[title] = str(versions[key])
    return facts


def _request(position: int, raw: Any) -> Request:
    r = _dict(raw)
    timings = _dict(r.get("timings"))
    return Request(
        index=_int(r.get("index")) if _int(r.get("index")) is not None else position,  # type: ignore[arg-type]
        start_ns=_int(r.get("start_ns")),
        first_token_ns=_int(r.get("first_token_ns")),
        end_ns=_int(r.get("end_ns")),
        prompt_tokens=_int(timings.get("prompt_n")),
        generated_tokens=_int(timings.get("predicted_n")),
        cached_tokens=_int(timings.get("cache_n")) or 0,
        prompt_ms=_float(timings.get("prompt_ms")),
        predicted_ms=_float(timings.get("predicted_ms")),
        elapsed_s=_float(r.get("elapsed_s")),
    )


def _clock(raw: Mapping[str, Any]) -> Clock:
    return Clock(
        capture_start_ns=_int(raw.get("capture_start_ns")),
        server_ready_ns=_int(raw.get("server_ready_ns")),
        workload_start_ns=_int(raw.get("workload_start_ns")),
        workload_end_ns=_int(raw.get("workload_end_ns")),
        stop_ns=_int(raw.get("stop_ns")),
    )


def _weights(raw: Mapping[str, Any]) -> ModelWeights | None:
    total = _int(raw.get("tensor_bytes"))
    if total is None:
        return None
    return ModelWeights(
        tensor_bytes=total,
        token_embd_bytes=_int(raw.get("token_embd_bytes")) or 0,
        output_tied=raw.get("output_tied") is True,
        expert_tensor_bytes=_int(raw.get("expert_tensor_bytes")) or 0,
        expert_count=_int(raw.get("expert_count")),
        expert_used_count=_int(raw.get("expert_used_count")),
        architecture=_str(raw.get("architecture")),
    )


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


# --- a folder of records -----------------------------------------------------------------------


def list_records(reports_dir: str | Path) -> list[Path]:
    """Every record in ``reports_dir`` (not in hidden or sub folders), by name."""
    folder = Path(reports_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*" + RECORD_SUFFIX) if not p.name.startswith("."))


def record_row(record: CaptureRecord | None, problem: str | None = None) -> dict:
    """One capture record as a table row (the columns of ``record_rows``).

    ``problem``: what to show instead of the record's own notes (a record that cannot be
    read). Missing fields are None.
    """
    data: Mapping[str, Any] = record.data if record is not None else {}
    if problem is None and record is not None:
        problem = "; ".join(record.problems)
    totals = _dict(data.get("totals"))
    return {
        "run": record.name if record is not None else None,
        "config": record.label if record is not None else None,
        "profiled": data.get("profiled"),
        "started": data.get("started"),
        "requests": totals.get("requests"),
        "generated_tokens": totals.get("generated_tokens"),
        "generation_tok_s": totals.get("predicted_per_second"),
        "prompt_tok_s": totals.get("prompt_per_second"),
        "throughput_tok_s": totals.get("generated_per_wall_second"),
        "report": data.get("report"),
        "problem": problem or None,
    }


def record_rows(reports_dir: str | Path) -> list[dict]:
    """One row per capture record in ``reports_dir``, newest first, for a table.

    Columns: ``run``, ``config`` (the label), ``profiled``, ``started``, ``requests``,
    ``generated_tokens``, ``generation_tok_s``, ``prompt_tok_s``, ``throughput_tok_s``
    (generated tokens over the workload's wall time), ``report``, ``problem`` (a record that
    cannot be read, or the capture's own notes).
    """
    rows = []
    for path in list_records(reports_dir):
        try:
            row = record_row(read_record(path))
        except ReportParseError as exc:
            row = record_row(None, exc.reason)
        row["run"] = row["run"] or run_stem(path)
        rows.append(row)
    rows.sort(key=lambda r: r["started"] or "", reverse=True)
    return rows
