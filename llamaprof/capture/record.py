"""The record a capture writes beside its report: ``<name>.llamaprof.json``.

One JSON object per run (keys below). Other parts of llamaprof read it through
``load_record`` to label a run by its config and to show its tokens/s, also for runs
captured without a profiler, which have a record and no report.

Keys: ``schema``, ``name``, ``label``, ``config`` {args, env}, ``created``, ``started``,
``ended``, ``commands`` {nsys, server, export}, ``server_args`` (parsed), ``env``, ``model``
{path, size_bytes}, ``versions`` {llama_server, nsys, llamaprof, build_info}, ``gpu``,
``server`` {pid, port, props}, ``workload``, ``requests`` [{index, client, status, start_s,
elapsed_s, timings (as returned), tokens_predicted, tokens_evaluated, stop_type}],
``totals``, ``metrics`` {before, after}, ``durations``, ``exit`` {server, nsys, escalated,
signals}, ``profiled``, ``repeat`` {group, index, of}, ``problems``, ``report``, ``sqlite``
(file names beside the record, or null), ``server_log_tail`` (the last lines llama-server,
and nsys, printed).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from llamaprof.errors import ReportParseError

SCHEMA = 1
RECORD_SUFFIX = ".llamaprof.json"
REPORT_SUFFIX = ".nsys-rep"
SQLITE_SUFFIX = ".sqlite"
#: Lines of the server's output kept in the record.
LOG_TAIL_LINES = 100
#: A capture in progress writes into ``<reports>/.<name>.capture-tmp/`` (hidden).
TMP_DIR_SUFFIX = ".capture-tmp"

_RUN_SUFFIXES = (RECORD_SUFFIX, REPORT_SUFFIX, ".qdrep", SQLITE_SUFFIX)


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


def load_record(path: str | Path) -> dict | None:
    """The capture record beside a report, an export, or the record itself; None if none.

    Raises ReportParseError when the record exists but is not a JSON object.
    """
    target = record_path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ReportParseError(target, f"cannot read the capture record: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ReportParseError(target, f"not a valid capture record: {exc}") from None
    if not isinstance(data, dict):
        raise ReportParseError(target, "not a valid capture record: not a JSON object")
    return data


def list_records(reports_dir: str | Path) -> list[Path]:
    """Every record in ``reports_dir`` (not in hidden or sub folders), by name."""
    folder = Path(reports_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*" + RECORD_SUFFIX) if not p.name.startswith("."))


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON to a hidden temporary file beside ``path``, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        with open(tmp, "x", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def run_files(reports_dir: Path, name: str) -> list[Path]:
    """The paths a run called ``name`` would own in ``reports_dir`` (existing or not)."""
    return [reports_dir / (name + s) for s in (REPORT_SUFFIX, SQLITE_SUFFIX, RECORD_SUFFIX)] + [
        reports_dir / f".{name}{TMP_DIR_SUFFIX}"
    ]


def unique_name(reports_dir: Path, name: str, taken: set[str] | None = None) -> str:
    """``name``, or ``name-2``, ``name-3``... so that no existing file is ever overwritten."""
    taken = taken or set()
    candidate, n = name, 1
    while candidate in taken or any(p.exists() for p in run_files(reports_dir, candidate)):
        n += 1
        candidate = f"{name}-{n}"
    return candidate


def record_row(record: dict, problem: str | None = None) -> dict:
    """One capture record as a table row (the columns of ``record_rows``).

    ``problem``: what to show instead of the record's own notes (a record that cannot be
    read). Missing or malformed fields are None.
    """
    if problem is None:
        problem = "; ".join(str(p) for p in record.get("problems") or [])
    totals = record.get("totals") if isinstance(record.get("totals"), dict) else {}
    return {
        "run": record.get("name"),
        "config": record.get("label"),
        "profiled": record.get("profiled"),
        "started": record.get("started"),
        "requests": totals.get("requests"),
        "generated_tokens": totals.get("generated_tokens"),
        "generation_tok_s": totals.get("predicted_per_second"),
        "prompt_tok_s": totals.get("prompt_per_second"),
        "throughput_tok_s": totals.get("generated_per_wall_second"),
        "report": record.get("report"),
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
            row = record_row(load_record(path) or {})
        except ReportParseError as exc:
            row = record_row({}, exc.reason)
        row["run"] = row["run"] or run_stem(path)
        rows.append(row)
    rows.sort(key=lambda r: r["started"] or "", reverse=True)
    return rows
