"""Fair comparisons of llama-server runs: normalisation, config diff, warnings, repeats.

Kept streamlit-free. Works on ``Run`` objects and on the capture record that llamaprof
writes beside a report it captured (a dict: ``server_args``, ``env``, ``model``, ``gpu``,
``workload``, ``requests``, ``totals``, ``repeat``, ``versions``; see
``llamaprof.capture.record``). Runs without a record still compare by totals.

- Normalisation: divide a summary's totals by the run's generated tokens or requests, so
  runs of different length compare (``divisors``, ``normalize_frames``).
- Config diff: server args and environment side by side, what differs marked
  (``config_diff``), and run labels built from what differs (``diff_labels``).
- Comparability warnings: different GPU, nsys version, model or workload; CUDA graphs
  traced at graph level; ``GGML_CUDA_DISABLE_GRAPHS`` in one run only; prompt-cache hits.
- Repeats: runs recorded as repeats of one config are grouped; their diff shows mean and
  spread and marks changes smaller than the spread as noise (``repeat_diff``).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pandas as pd

from llamaprof import reports
from llamaprof.analyze.compare import LONG_COLUMNS
from llamaprof.capture.command import GRAPH_NODES_OPTION
from llamaprof.errors import LlamaprofError, NotNormalizable
from llamaprof.model import Run
from llamaprof.record import read_record
from llamaprof.server_args import POSITIONAL, difference_labels, parse_server_args

__all__ = [
    "ComparabilityWarning",
    "Normalize",
    "NotNormalizable",
    "comparability_warnings",
    "config_diff",
    "diff_labels",
    "divisors",
    "flatten_config",
    "load_records",
    "normalization_caption",
    "normalize_frames",
    "repeat_diff",
    "repeat_groups",
    "repeat_long",
    "require_divisors",
    "safe_records",
    "unit_for",
]

Record = Mapping[str, Any]


class Normalize(StrEnum):
    """What a report's totals are divided by."""

    NONE = "none"
    PER_TOKEN = "per-token"  # per generated token (record totals.generated_tokens)
    PER_REQUEST = "per-request"  # per HTTP request of the workload (record totals.requests)


_DIVISOR_KEY = {Normalize.PER_TOKEN: "generated_tokens", Normalize.PER_REQUEST: "requests"}
_PER = {Normalize.NONE: "", Normalize.PER_TOKEN: "/token", Normalize.PER_REQUEST: "/request"}


def load_records(runs: Mapping[str, Run]) -> dict[str, dict | None]:
    """The capture record beside each run's report (None where there is none), by label.

    Raises ReportParseError when a record exists but cannot be read (see ``safe_records``).
    """
    return {label: _record_data(run) for label, run in runs.items()}


def _record_data(run: Run) -> dict | None:
    record = read_record(run.path)
    return dict(record.data) if record is not None else None


def safe_records(runs: Mapping[str, Run]) -> tuple[dict[str, dict | None], list[str]]:
    """Each run's capture record by label, and one line per record that cannot be read.

    A broken record is taken as no record (None): it costs only that run's record-based
    features (normalisation, config labels, repeats), never the comparison. The app shows
    the lines as warnings, the command line prints them on stderr.
    """
    records: dict[str, dict | None] = {}
    problems: list[str] = []
    for label, run in runs.items():
        try:
            records[label] = _record_data(run)
        except LlamaprofError as exc:
            records[label] = None
            problems.append(f"{label}: {getattr(exc, 'reason', None) or exc}")
    return records, problems


def divisor(record: Record | None, mode: Normalize | str) -> float | None:
    """What ``record``'s run divides its totals by under ``mode``; None if it cannot.

    ``Normalize.NONE`` gives 1.0. A missing record, a missing count or a count of 0 gives None.
    """
    mode = Normalize(mode)
    if mode is Normalize.NONE:
        return 1.0
    if not record:
        return None
    totals = record.get("totals") or {}
    value = totals.get(_DIVISOR_KEY[mode])
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return None
    return float(value)


def divisors(
    records: Mapping[str, Record | None], mode: Normalize | str
) -> dict[str, float | None]:
    """``divisor`` of every run, by label."""
    return {label: divisor(record, mode) for label, record in records.items()}


def require_divisors(
    records: Mapping[str, Record | None], mode: Normalize | str
) -> dict[str, float]:
    """Every run's divisor, or NotNormalizable naming the runs that have none.

    The command line refuses to mix normalised and raw totals; the app instead shows totals
    with a warning (use ``divisors``).
    """
    mode = Normalize(mode)
    found = divisors(records, mode)
    missing = [label for label, value in found.items() if value is None]
    if missing:
        what = "generated tokens" if mode is Normalize.PER_TOKEN else "requests"
        raise NotNormalizable(
            f"--normalize {mode.value} needs a capture record with {what} beside every run; "
            f"{', '.join(missing)} {'has' if len(missing) == 1 else 'have'} none "
            "(use --normalize none)"
        )
    return {label: float(value) for label, value in found.items() if value is not None}


def unit_for(report: str, mode: Normalize | str = Normalize.NONE) -> str:
    """The unit of a report's values: ``ns``, ``bytes``, ``ns/token``, ``bytes/request``..."""
    base = "bytes" if reports.canonical_report_name(report) == reports.MEM_SIZE else "ns"
    return base + _PER[Normalize(mode)]


def normalize_frames(
    frames: Mapping[str, pd.DataFrame],
    by: Mapping[str, float | None],
    columns: tuple[str, ...] = ("total_ns", "total_bytes"),
) -> dict[str, pd.DataFrame]:
    """Copies of ``frames`` with ``columns`` divided by each run's divisor (float64).

    A run whose divisor is None (or missing from ``by``) keeps its totals unchanged: the
    caller says so (``normalization_caption``). Counts are never divided.
    """
    out: dict[str, pd.DataFrame] = {}
    for label, frame in frames.items():
        factor = by.get(label)
        copy = frame.copy()
        if factor and factor != 1.0:  # dividing by 1 would only turn exact ints into floats
            for column in columns:
                if column in copy.columns:
                    copy[column] = copy[column].astype("float64") / factor
        out[label] = copy
    return out


def normalization_caption(mode: Normalize | str, by: Mapping[str, float | None]) -> str:
    """One line saying which normalisation is active and what each run was divided by.

    >>> normalization_caption("per-token", {"a": 512.0, "b": None})
    'Per generated token: a ÷ 512 tokens; b shows totals (no capture record).'
    """
    mode = Normalize(mode)
    if mode is Normalize.NONE:
        return "Totals over the whole capture (not normalised)."
    noun = "tokens" if mode is Normalize.PER_TOKEN else "requests"
    head = "Per generated token" if mode is Normalize.PER_TOKEN else "Per request"
    parts = []
    for label, value in by.items():
        if value is None:
            parts.append(f"{label} shows totals (no capture record)")
        else:
            parts.append(f"{label} ÷ {value:,.0f} {noun}")
    return f"{head}: {'; '.join(parts)}."


# --- configuration side by side ------------------------------------------------------------


#: The text of a bare flag (``--metrics``) in the config table; labels show the flag alone.
FLAG_SET = "(set)"


def _arg_text(value: Any) -> str:
    if value is True:
        return FLAG_SET
    if isinstance(value, list | tuple):  # a repeated flag: its values in order
        return " ".join(_arg_text(v) for v in value)
    return _text(value)


def _args_dict(server_args: Any) -> dict[str, str]:
    """Server args as ``{flag: value}``, from ``parse_server_args``' dict or an argv list."""
    if isinstance(server_args, list | tuple):
        server_args = parse_server_args([str(item) for item in server_args])
    if isinstance(server_args, Mapping):
        return {str(k): _arg_text(v) for k, v in server_args.items() if k != POSITIONAL}
    return {}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def flatten_config(record: Record | None) -> dict[str, str]:
    """A record's configuration as ``{setting: text}``.

    Settings: ``arg <flag>`` per server arg, ``env <NAME>`` per environment variable, then
    ``model``, ``model size``, ``gpu``, ``workload``, ``llama-server``, ``nsys``. A record
    of None gives ``{}``.
    """
    if not record:
        return {}
    flat: dict[str, str] = {}
    for key, value in _args_dict(record.get("server_args") or {}).items():
        flat[f"arg {key}"] = value
    for key, value in sorted((record.get("env") or {}).items()):
        flat[f"env {key}"] = _text(value)
    model = record.get("model") or {}
    if isinstance(model, Mapping):
        if model.get("path") is not None:
            flat["model"] = str(model["path"])
        if model.get("size_bytes") is not None:
            flat["model size"] = str(model["size_bytes"])
    elif model:
        flat["model"] = str(model)
    for key in ("gpu", "workload"):
        if record.get(key) not in (None, "", {}):
            flat[key] = _text(record[key])
    versions = record.get("versions") or {}
    for key, name in (("llama_server", "llama-server"), ("nsys", "nsys")):
        if versions.get(key):
            flat[name] = str(versions[key])
    return flat


def config_diff(records: Mapping[str, Record | None]) -> pd.DataFrame:
    """Server args and environment of several runs side by side.

    Columns: ``setting`` (``arg -fa``, ``env GGML_CUDA_DISABLE_GRAPHS``, ``model``, ...),
    one column per run label (the value as text; ``""`` where the run does not set it, or
    has no record), and ``differs`` (bool: the runs that have a record do not all have the
    same text). Rows: in the order first seen, settings that differ first.
    """
    flats = {label: flatten_config(record) for label, record in records.items()}
    settings: list[str] = []
    for flat in flats.values():
        settings.extend(key for key in flat if key not in settings)
    known = [label for label, flat in flats.items() if flat]  # no record: nothing to differ
    rows = []
    for setting in settings:
        values = [flats[label].get(setting, "") for label in flats]
        compared = {flats[label].get(setting, "") for label in known}
        rows.append(
            {
                "setting": setting,
                **dict(zip(flats, values, strict=True)),
                "differs": len(compared) > 1,
            }
        )
    frame = pd.DataFrame(rows, columns=["setting", *flats, "differs"])
    if frame.empty:
        return frame.astype({"differs": "bool"})
    frame = frame.sort_values("differs", ascending=False, kind="stable").reset_index(drop=True)
    return frame.astype({"differs": "bool"})


def diff_labels(records: Mapping[str, Record | None]) -> dict[str, str]:
    """Run labels built from the server args and environment that differ between runs.

    >>> diff_labels({"a": {"server_args": {"-fa": "on", "-ngl": "99"}},
    ...              "b": {"server_args": {"-fa": "off", "-ngl": "99"}}})
    {'a': '-fa on', 'b': '-fa off'}

    A flag set in some runs only reads ``no -fa`` where it is absent; an environment
    variable ``NAME=value`` / ``no NAME``. Runs with no record, or where nothing differs,
    keep their label. Labels that would still collide get `` #2``, `` #3``.
    """
    flats = {label: flatten_config(record) for label, record in records.items()}
    known = [label for label, flat in flats.items() if flat]  # no record: keeps its label
    texts = [
        {key: _label_part(key, value) for key, value in flats[label].items()} for label in known
    ]
    parts = difference_labels(
        [{k: t for k, t in text.items() if t is not None} for text in texts],
        absent=lambda key: f"no {key.split(' ', 1)[1]}",
    )
    result = {label: label for label in flats}
    for label, part in zip(known, parts, strict=True):
        result[label] = part or label  # nothing differs: the label stays
    seen: dict[str, int] = {}
    for label in list(result):
        text = result[label]
        seen[text] = seen.get(text, 0) + 1
        if seen[text] > 1:
            result[label] = f"{text} #{seen[text]}"
    return result


def _label_part(key: str, value: str) -> str | None:
    """``-fa on`` / ``--metrics`` for an ``arg`` setting, ``NAME=value`` for an ``env`` one."""
    kind, _, name = key.partition(" ")
    if kind == "arg":
        return name if value == FLAG_SET else f"{name} {value}"
    if kind == "env":
        return f"{name}={value}"
    return None  # model, gpu, versions...: in the config table, not in labels


# --- comparability warnings ------------------------------------------------------------------


@dataclass(frozen=True)
class ComparabilityWarning:
    """Why two runs may not be comparable: a ``kind`` key and a one-line ``message``."""

    kind: str  # gpu | nsys | model | workload | cuda-graphs | graphs-env | prompt-cache
    message: str
    labels: tuple[str, ...] = field(default=())


def _gpu(run: Run | None, record: Record | None) -> str | None:
    if run is not None and run.info.gpus:
        return ", ".join(run.info.gpus)
    if record and record.get("gpu"):
        return _text(record["gpu"])
    return None


def _nsys(run: Run | None, record: Record | None) -> str | None:
    if run is not None and run.info.nsys_version:
        return run.info.nsys_version
    versions = (record or {}).get("versions") or {}
    return str(versions["nsys"]) if versions.get("nsys") else None


def _model(record: Record | None) -> str | None:
    model = (record or {}).get("model")
    if not model:
        return None
    if isinstance(model, Mapping):
        path = str(model.get("path") or "")
        name = path.replace("\\", "/").rsplit("/", 1)[-1]
        size = model.get("size_bytes")
        return f"{name} ({size:,} bytes)" if isinstance(size, int) else name or None
    return str(model)


def _workload(record: Record | None) -> str | None:
    workload = (record or {}).get("workload")
    return _text(workload) if workload not in (None, "", {}) else None


def _differs(kind: str, what: str, values: dict[str, str | None]) -> ComparabilityWarning | None:
    known = {label: v for label, v in values.items() if v is not None}
    if len(set(known.values())) <= 1:
        return None
    listing = "; ".join(f"{label}: {value}" for label, value in known.items())
    return ComparabilityWarning(kind, f"Different {what}: {listing}.", tuple(known))


def _graph_launches(run: Run | None) -> int:
    """How many cudaGraphLaunch calls the run's API summary holds (0 if none or no summary)."""
    api = run.summary(reports.API) if run is not None else None
    if api is None or api.empty:
        return 0
    mask = api["name"].astype(str).str.startswith(("cudaGraphLaunch", "cuGraphLaunch"))
    return int(api.loc[mask, "count"].sum())


def _node_level(record: Record | None) -> bool:
    """True if the record's nsys command traced CUDA graphs per node.

    Only ``commands.nsys`` (an argv list) counts, as ``--cuda-graph-trace=node`` or as the
    two tokens ``--cuda-graph-trace node``: a prompt or a log that mentions the option
    does not.
    """
    command = ((record or {}).get("commands") or {}).get("nsys") or []
    if not isinstance(command, list | tuple):
        return False
    tokens = [str(token) for token in command]
    return GRAPH_NODES_OPTION in tokens or any(
        a == "--cuda-graph-trace" and b == "node" for a, b in itertools.pairwise(tokens)
    )


def _graphs_disabled(record: Record | None) -> bool:
    value = str(((record or {}).get("env") or {}).get("GGML_CUDA_DISABLE_GRAPHS", "")).strip()
    return value not in ("", "0")


def _cache_hits(record: Record | None) -> tuple[int, int, int]:
    """(prompt tokens served from cache, requests with a hit, requests) from the timings."""
    requests = (record or {}).get("requests") or []
    hits = [int((r.get("timings") or {}).get("cache_n") or 0) for r in requests]
    tokens = sum(hits)
    if not tokens:  # a record may keep only its totals
        tokens = int(((record or {}).get("totals") or {}).get("cached_tokens") or 0)
    return tokens, sum(1 for h in hits if h > 0), len(requests)


def comparability_warnings(
    runs: Mapping[str, Run | None], records: Mapping[str, Record | None]
) -> list[ComparabilityWarning]:
    """Reasons the runs may not be comparable, one warning per reason, in a fixed order.

    ``runs`` and ``records`` are keyed by the same labels (a record may be None). GPU and
    nsys version come from the report itself where it has them, else from the record; model
    and workload only from records. The checks:

    - ``gpu``, ``nsys``, ``model``, ``workload``: the runs that know it disagree;
    - ``cuda-graphs``: a run launched CUDA graphs (``cudaGraphLaunch`` in its API summary)
      without node-level tracing, so the kernels inside the graphs are not in its kernel
      summary;
    - ``graphs-env``: ``GGML_CUDA_DISABLE_GRAPHS`` is set in some runs only;
    - ``prompt-cache``: a run's requests took prompt tokens from llama-server's cache
      (``timings.cache_n`` > 0), so its prompt processing is shorter than a cold run's.
    """
    labels = list(dict.fromkeys([*runs, *records]))
    run = {label: runs.get(label) for label in labels}
    rec = {label: records.get(label) for label in labels}
    warnings = [
        _differs("gpu", "GPUs", {lb: _gpu(run[lb], rec[lb]) for lb in labels}),
        _differs("nsys", "nsys versions", {lb: _nsys(run[lb], rec[lb]) for lb in labels}),
        _differs("model", "models", {lb: _model(rec[lb]) for lb in labels}),
        _differs("workload", "workloads", {lb: _workload(rec[lb]) for lb in labels}),
    ]
    out = [w for w in warnings if w is not None]
    for label in labels:
        launches = _graph_launches(run[label])
        if launches and not _node_level(rec[label]):
            out.append(
                ComparabilityWarning(
                    "cuda-graphs",
                    f"{label}: {launches:,} cudaGraphLaunch calls, traced at graph level: the "
                    "kernels inside the graphs are missing from its kernel summary (capture with "
                    "--cuda-graph-trace=node or GGML_CUDA_DISABLE_GRAPHS=1).",
                    (label,),
                )
            )
    with_record = [label for label in labels if rec[label]]
    disabled = [label for label in with_record if _graphs_disabled(rec[label])]
    if disabled and len(disabled) < len(with_record):
        enabled = [label for label in with_record if label not in disabled]
        out.append(
            ComparabilityWarning(
                "graphs-env",
                f"GGML_CUDA_DISABLE_GRAPHS is set in {', '.join(disabled)} only, not in "
                f"{', '.join(enabled)}: one side runs CUDA graphs, the other plain launches.",
                tuple(disabled),
            )
        )
    for label in with_record:
        tokens, hit, total = _cache_hits(rec[label])
        if tokens:
            where = f" in {hit} of {total} requests" if hit else ""
            out.append(
                ComparabilityWarning(
                    "prompt-cache",
                    f"{label}: {tokens:,} prompt tokens came from the prompt cache{where} "
                    "(timings.cache_n); its prompt processing is shorter than a cold run's "
                    "(send cache_prompt: false).",
                    (label,),
                )
            )
    return out


# --- repeats ---------------------------------------------------------------------------------


def repeat_groups(records: Mapping[str, Record | None]) -> dict[str, list[str]]:
    """Runs grouped by their record's ``repeat.group``, in the order first seen.

    A run without repeat information is a group of its own, named by its label.
    """
    groups: dict[str, list[str]] = {}
    for label, record in records.items():
        repeat = (record or {}).get("repeat") or {}
        group = repeat.get("group") if isinstance(repeat, Mapping) else None
        groups.setdefault(str(group) if group else label, []).append(label)
    return groups


def _group_stats(
    frames: Mapping[str, pd.DataFrame], members: list[str], key: str, value: str
) -> pd.DataFrame:
    """Mean, sample standard deviation and size of ``value`` per ``key`` over ``members``.

    A key absent from one member counts as 0 there: it is a total that run did not have.
    """
    wide = (
        pd.concat([frames[m].groupby(key)[value].sum().rename(m) for m in members], axis=1)
        .fillna(0.0)
        .astype("float64")
    )
    std = wide.std(axis=1, ddof=1) if len(members) > 1 else pd.Series(0.0, index=wide.index)
    return pd.DataFrame({"mean": wide.mean(axis=1), "std": std.fillna(0.0), "n": len(members)})


def repeat_diff(
    frames: Mapping[str, pd.DataFrame],
    groups: Mapping[str, list[str]],
    baseline: str,
    *,
    key: str = "name",
    value: str = "total_ns",
) -> pd.DataFrame:
    """The diff of repeat groups against a baseline group: mean, spread and noise.

    ``frames``: per run label, a summary with ``key`` and ``value`` columns; ``groups``:
    group name -> run labels (``repeat_groups``); ``baseline``: a group name.

    Returns one row per (other group, key), columns: ``name`` (the key), ``group``, ``n``,
    ``mean``, ``std`` (sample standard deviation, n-1; 0 for one run), ``baseline_n``,
    ``baseline_mean``, ``baseline_std``, ``delta`` (mean - baseline_mean), ``delta_pct``
    (percent of baseline_mean; NaN where that is 0), ``spread`` (the larger of the two
    standard deviations), ``noise`` (a change no larger than the spread: ``|delta| <=
    spread`` with ``spread > 0``), ``status`` (new | missing | changed | same). Rows are
    ordered by group, then by ``|delta|`` largest first.
    """
    if baseline not in groups:
        raise LlamaprofError(f"unknown baseline group {baseline!r}; groups: {', '.join(groups)}")
    base = _group_stats(frames, groups[baseline], key, value)
    parts = []
    for group, members in groups.items():
        if group == baseline:
            continue
        other = _group_stats(frames, members, key, value)
        joined = base.add_prefix("baseline_").join(other, how="outer")
        present_base = joined["baseline_n"].notna()
        present_other = joined["n"].notna()
        joined["baseline_n"] = len(groups[baseline])
        joined["n"] = len(members)
        joined = joined.fillna({"mean": 0.0, "std": 0.0, "baseline_mean": 0.0, "baseline_std": 0.0})
        joined["delta"] = joined["mean"] - joined["baseline_mean"]
        joined["delta_pct"] = [
            d * 100.0 / b if b else math.nan
            for d, b in zip(joined["delta"], joined["baseline_mean"], strict=True)
        ]
        joined["spread"] = joined[["std", "baseline_std"]].max(axis=1)
        joined["noise"] = (joined["spread"] > 0) & (joined["delta"].abs() <= joined["spread"])
        joined["status"] = [
            "new" if not pb else "missing" if not po else "same" if d == 0 else "changed"
            for pb, po, d in zip(present_base, present_other, joined["delta"], strict=True)
        ]
        joined["group"] = group
        joined = joined.rename_axis("name").reset_index()
        joined["_abs"] = joined["delta"].abs()
        joined = joined.sort_values(["_abs", "name"], ascending=[False, True], kind="stable")
        parts.append(joined)
    columns = [
        "name",
        "group",
        "n",
        "mean",
        "std",
        "baseline_n",
        "baseline_mean",
        "baseline_std",
        "delta",
        "delta_pct",
        "spread",
        "noise",
        "status",
    ]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)[columns]
    return out.astype({"n": "int64", "baseline_n": "int64", "noise": "bool"})


def repeat_long(diff: pd.DataFrame, baseline: str, groups: list[str]) -> pd.DataFrame:
    """``repeat_diff``'s frame reshaped like ``compare_runs``': one row per (name, group).

    The baseline group gets rows too (its mean as value, delta 0). Columns: those of
    ``llamaprof.analyze.compare.LONG_COLUMNS`` (``run`` holds the group name, ``value`` the
    group's mean, ``count`` 0) plus ``std``, ``n``, ``spread`` and ``noise``. Rows are
    ordered by impact (the largest ``|delta|`` of the name over groups), then name, then
    group in the order of ``groups``; ``status`` is "same" for the baseline's rows.
    """
    columns = [*LONG_COLUMNS, "std", "n", "spread", "noise"]
    if diff.empty:
        return pd.DataFrame(columns=columns)
    base = diff.drop_duplicates("name")[["name", "baseline_mean", "baseline_std", "baseline_n"]]
    base_rows = pd.DataFrame(
        {
            "name": base["name"],
            "run": baseline,
            "value": base["baseline_mean"],
            "baseline_value": base["baseline_mean"],
            "delta": 0.0,
            "delta_pct": [0.0 if v else math.nan for v in base["baseline_mean"]],
            "status": "same",
            "std": base["baseline_std"],
            "n": base["baseline_n"],
            "spread": base["baseline_std"],
            "noise": False,
        }
    )
    other_rows = diff.rename(
        columns={"group": "run", "mean": "value", "baseline_mean": "baseline_value"}
    )
    long = pd.concat([base_rows, other_rows[base_rows.columns]], ignore_index=True)
    long["count"] = 0
    long["impact"] = long["delta"].abs().groupby(long["name"]).transform("max")
    order = {group: i for i, group in enumerate(groups)}
    long["_group"] = long["run"].map(order)
    long = long.sort_values(
        ["impact", "name", "_group"], ascending=[False, True, True], kind="stable"
    )
    return long[columns].reset_index(drop=True).astype({"noise": "bool", "n": "int64"})
