"""An on-disk cache of read runs, so a report already read opens in milliseconds.

``load_run_cached(path)`` returns what ``load_report(path)`` returns; the first read of a
file stores the ``Run`` in a cache folder, later reads of the same, unchanged file come from
there. An entry is served only when the report's identity still matches: resolved path,
size, mtime, inode, ctime and a hash of its first and last 64 KiB (the SQLite header's
change counter lives in the first page) -- plus the cache format version and a fingerprint
of the reader code, so an upgrade of llamaprof never serves summaries an older reader made.

Where: ``<report folder>/.llamaprof-cache/`` when that folder is writable (its mode bits
too: a folder marked read-only stays untouched even for root), else the user cache
(``$XDG_CACHE_HOME/llamaprof`` or ``~/.cache/llamaprof``); ``cache_dir=`` or the
``LLAMAPROF_CACHE_DIR`` environment variable picks one folder instead. When no folder can
be written, runs are still read, just not cached.

Format: one file per report, never pickle (a cache folder on a shared workstation must not
run code when read): a JSON header (identity, RunInfo, skipped reports, a SHA-256 of the
payload) followed by one Parquet blob per summary frame. Object columns are stored as
strings with their exact NA markers (None / pd.NA / NaN) in the header, and every entry is
decoded and compared with the fresh frames before it is written, so a cached run equals
the fresh one exactly (dtypes and NA included) or is not cached at all. Entries are
written to a temporary file and renamed into place, so a reader sees a whole entry or
none and two writers never mix; anything that does not verify on read is rebuilt.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import math
import os
import re
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from llamaprof.events import Events
from llamaprof.model import KernelNaming, ReportFormat, Run, RunInfo
from llamaprof.writable import may_write

log = logging.getLogger(__name__)

#: Bump when the entry layout changes; older entries are then rebuilt.
CACHE_FORMAT = 2
CACHE_FOLDER = ".llamaprof-cache"
ENV_CACHE_DIR = "LLAMAPROF_CACHE_DIR"
_MAGIC = b"LLAMAPROF-RUN-CACHE\n"
_EDGE_BYTES = 64 * 1024
_STALE_TEMP_S = 3600  # temporary files older than this are left-overs of a crashed writer

Loader = Callable[[Path], Run]


class _Unusable(Exception):
    """An entry that cannot be trusted (corrupt, stale, other version): rebuild it."""


def load_run_cached(
    path: str | Path, *, cache_dir: str | Path | None = None, loader: Loader | None = None
) -> Run:
    """Read ``path`` like ``load_report``, through the on-disk cache.

    ``cache_dir``: the one folder to use (default: beside the report, else the user cache).
    ``loader``: what reads a file on a miss (default ``llamaprof.sources.load_report``).
    Raises what the loader raises (``ReportParseError``) for a file it cannot read; cache
    trouble (unwritable folder, corrupt entry) is never raised.
    """
    path = Path(path)
    hit = cached_run(path, cache_dir=cache_dir)
    if hit is not None:
        return hit
    if loader is None:
        from llamaprof.sources import load_report

        loader = load_report
    try:
        before = file_identity(path)  # before reading: a file changed meanwhile is not stored
    except OSError:
        return loader(path)  # missing, a folder, unreadable: the loader says so in its words
    run = loader(path)
    try:
        after = file_identity(path)
    except OSError:
        return run
    if before == after:
        _store(run, after, _cache_dirs(path, cache_dir))
    return run


def cached_run(path: str | Path, *, cache_dir: str | Path | None = None) -> Run | None:
    """The cached ``Run`` of ``path`` if a valid entry exists, else None (reads nothing else).

    Lets a UI tell a quick hit from a read that deserves a progress indicator.
    """
    path = Path(path)
    try:
        identity = file_identity(path)
    except OSError:
        return None
    for folder in _cache_dirs(path, cache_dir):
        entry = folder / _entry_name(identity)
        try:
            return _read_entry(entry, identity, path)
        except FileNotFoundError:
            continue
        except _Unusable as exc:
            log.info("cache entry %s not used: %s", entry, exc)
        except Exception as exc:  # a damaged entry can fail in any decoder: rebuild, never raise
            log.warning("cache entry %s unreadable (%s: %s)", entry, type(exc).__name__, exc)
    return None


class FileStamp(NamedTuple):
    """A file's state as one ``stat`` sees it: path, size (bytes), mtime (ns).

    The one definition of "this file, unchanged" wherever llamaprof keys on files cheaply
    (the folder scan's sniff cache, the app's caches of runs, records and comparisons);
    ``file_identity`` starts from it and adds what only reading tells (inode, ctime, a hash
    of the file's edges) for the on-disk cache, which must never serve a stale run.
    """

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def from_stat(cls, path: str | Path, st: os.stat_result) -> FileStamp:
        """The stamp of ``path`` from a ``stat`` already made."""
        return cls(str(path), st.st_size, st.st_mtime_ns)

    @classmethod
    def of(cls, path: str | Path) -> FileStamp | None:
        """The stamp of ``path`` (links followed), None when there is no such file."""
        try:
            return cls.from_stat(path, os.stat(path))
        except OSError:
            return None


def file_identity(path: str | Path) -> dict[str, int | str]:
    """What identifies a report's content cheaply: ``FileStamp``'s path (resolved), size and
    mtime, then ctime, inode and an edge hash.

    ``edges`` is a BLAKE2b of the first and last 64 KiB: a file rewritten in place with its
    size and mtime put back still differs there (an SQLite file's header counts changes).
    Raises OSError when the file cannot be read.
    """
    resolved = Path(path).resolve()
    with resolved.open("rb") as fh:
        st = os.fstat(fh.fileno())
        digest = hashlib.blake2b(fh.read(_EDGE_BYTES), digest_size=16)
        if st.st_size > _EDGE_BYTES:
            fh.seek(max(_EDGE_BYTES, st.st_size - _EDGE_BYTES))
            digest.update(fh.read(_EDGE_BYTES))
    return {
        **FileStamp.from_stat(resolved, st)._asdict(),
        "ctime_ns": st.st_ctime_ns,
        "inode": st.st_ino,
        "edges": digest.hexdigest(),
    }


def default_cache_dirs(path: str | Path) -> list[Path]:
    """Cache folders tried for ``path``, in order: beside the report, then the user cache."""
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return [Path(env)]
    xdg = os.environ.get("XDG_CACHE_HOME")
    user = Path(xdg) if xdg else Path.home() / ".cache"
    return [Path(path).resolve().parent / CACHE_FOLDER, user / "llamaprof"]


@functools.cache
def code_fingerprint() -> str:
    """Hash of the code that shapes a ``Run`` (model, registry, readers, this module).

    In the key of every entry, so a changed reader never serves what the old one made.
    """
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(str(CACHE_FORMAT).encode())
    files = [
        package / name
        for name in ("model.py", "events.py", "summaries.py", "numeric.py", "reports.py")
    ]
    files.append(package / "rounding.py")
    files.append(Path(__file__).resolve())
    files += sorted((package / "sources").rglob("*.py"))
    for file in files:
        digest.update(file.relative_to(package).as_posix().encode())
        digest.update(file.read_bytes() if file.exists() else b"-")
    return digest.hexdigest()[:16]


def _cache_dirs(path: Path, cache_dir: str | Path | None) -> list[Path]:
    """Folders looked in (all) and written to (the first that takes the entry)."""
    return [Path(cache_dir)] if cache_dir is not None else default_cache_dirs(path)


def _entry_name(identity: dict[str, int | str]) -> str:
    """One entry per report path: a replaced report overwrites its old entry."""
    name = Path(str(identity["path"])).name
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:60]
    digest = hashlib.sha256(str(identity["path"]).encode()).hexdigest()[:16]
    return f"{safe}.{digest}.run"


# --- writing -------------------------------------------------------------------------------


def _store(run: Run, identity: dict[str, int | str], folders: list[Path]) -> None:
    """Write ``run``'s entry into the first folder that takes it; give up quietly."""
    try:
        blob = _encode(run, identity)
    except _Unusable as exc:
        log.info("run %s not cached: %s", run.path, exc)
        return
    for folder in folders:
        if not may_write(folder):
            continue
        try:
            _write_atomic(folder, _entry_name(identity), blob)
            return
        except OSError as exc:
            log.info("cache folder %s not writable: %s", folder, exc)


def _write_atomic(folder: Path, name: str, blob: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".run")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, folder / name)  # atomic: readers see the old entry or the new one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sweep_stale_temps(folder)


def _sweep_stale_temps(folder: Path) -> None:
    cutoff = time.time() - _STALE_TEMP_S
    for tmp in folder.glob(".tmp-*.run"):
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
        except OSError:
            pass  # another process took it first


def _encode(run: Run, identity: dict[str, int | str]) -> bytes:
    """The entry's bytes; raises _Unusable when ``run`` would not come back exactly."""
    frames: list[tuple[str, str, pd.DataFrame]] = [
        ("summary", name, df) for name, df in run.summaries.items()
    ]
    frames += [("variant", naming.value, df) for naming, df in run.kernel_variants.items()]
    events = run.events
    if events is not None:
        for name in _EVENT_FRAMES:
            frame = getattr(events, name)
            if frame is not None:
                frames.append(("events", name, frame))
    payload = bytearray()
    index = []
    for kind, name, df in frames:
        blob, objects = _frame_to_parquet(df)
        if not _same_frame(_frame_from_parquet(blob, objects), df):
            raise _Unusable(f"frame {name} does not round-trip exactly")
        index.append(
            {
                "kind": kind,
                "name": name,
                "offset": len(payload),
                "length": len(blob),
                "objects": objects,
            }
        )
        payload += blob
    header = {
        "format": CACHE_FORMAT,
        "code": code_fingerprint(),
        "identity": identity,
        "report_format": run.format.value,
        "info": dataclasses.asdict(run.info),
        "skipped": run.skipped,
        "events": None if events is None else _event_facts(events),
        "frames": index,
        "payload_bytes": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
    }
    try:
        text = json.dumps(header, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise _Unusable(f"run facts are not plain JSON: {exc}") from None
    if _decode_header_facts(json.loads(text)) != (run.info, run.skipped, run.format):
        raise _Unusable("run facts do not round-trip through JSON")
    return _MAGIC + struct.pack("<Q", len(text)) + text + bytes(payload)


def _same_frame(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    try:
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    except AssertionError:
        return False
    return True


def _na_kind(value: object) -> str | None:
    """Which NA marker ``value`` is, or None for a real value."""
    if value is None:
        return "None"
    if value is pd.NA:
        return "NA"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return None


def _frame_to_parquet(df: pd.DataFrame) -> tuple[bytes, dict[str, dict[str, list[int]]]]:
    """Parquet bytes of ``df``; object columns become strings, their NA markers returned.

    Object columns holding anything but strings and NA markers are refused (_Unusable).
    """
    objects: dict[str, dict[str, list[int]]] = {}
    columns = {}
    for column in df.columns:
        series = df[column]
        if series.dtype == object:
            if not isinstance(column, str):
                raise _Unusable(f"object column {column!r} has a non-text name")
            markers: dict[str, list[int]] = {}
            for i, value in enumerate(series.tolist()):
                kind = _na_kind(value)
                if kind is not None:
                    markers.setdefault(kind, []).append(i)
                elif not isinstance(value, str):
                    raise _Unusable(f"column {column!r} holds {type(value).__name__} values")
            objects[column] = markers
            series = series.astype("string")
        columns[column] = series
    encoded = pd.DataFrame(columns, index=df.index) if len(df.columns) else df
    sink = pa.BufferOutputStream()
    try:
        pq.write_table(pa.Table.from_pandas(encoded), sink, compression="none")
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise _Unusable(f"not storable as Parquet: {exc}") from None
    return sink.getvalue().to_pybytes(), objects


def _frame_from_parquet(blob: bytes, objects: dict[str, dict[str, list[int]]]) -> pd.DataFrame:
    # Arrow reads from a buffer it owns: an Arrow I/O thread that releases a buffer over Python
    # bytes takes the GIL, and doing so during interpreter shutdown aborts the process
    # ("terminate called without an active exception", seen under load).
    owned = pa.BufferOutputStream()
    owned.write(blob)
    df = pq.read_table(pa.BufferReader(owned.getvalue())).to_pandas()
    markers = {"None": None, "NA": pd.NA, "nan": float("nan")}
    for column, kinds in objects.items():
        values = df[column].astype(object).tolist()
        for kind, rows in kinds.items():
            for i in rows:
                values[i] = markers[kind]
        df[column] = pd.Series(values, index=df.index, dtype=object)
    return df


# --- reading -------------------------------------------------------------------------------


def _read_entry(entry: Path, identity: dict[str, int | str], path: Path) -> Run:
    with entry.open("rb") as fh:
        data = fh.read()
    if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + 8:
        raise _Unusable("not a llamaprof cache entry")
    (length,) = struct.unpack_from("<Q", data, len(_MAGIC))
    start = len(_MAGIC) + 8
    header = json.loads(data[start : start + length])
    if header.get("format") != CACHE_FORMAT or header.get("code") != code_fingerprint():
        raise _Unusable("written by another llamaprof version")
    if header.get("identity") != identity:
        raise _Unusable("the report changed since")
    payload = memoryview(data)[start + length :]
    if len(payload) != header["payload_bytes"]:
        raise _Unusable("truncated")
    if hashlib.sha256(payload).hexdigest() != header["payload_sha256"]:
        raise _Unusable("checksum mismatch")
    info, skipped, fmt = _decode_header_facts(header)
    run = Run(path=path, format=fmt, skipped=skipped, info=info)
    facts = header.get("events")
    if facts is not None:
        run.events = Events(
            api_names=list(facts["api_names"]),
            memory_ops=list(facts["memory_ops"]),
            session_start_utc_ns=facts["session_start_utc_ns"],
            capture_end_ns=facts["capture_end_ns"],
        )
    for frame in header["frames"]:
        blob = payload[frame["offset"] : frame["offset"] + frame["length"]]
        df = _frame_from_parquet(bytes(blob), frame["objects"])
        if frame["kind"] == "summary":
            run.summaries[frame["name"]] = df
        elif frame["kind"] == "events" and run.events is not None:
            setattr(run.events, frame["name"], df)
        else:
            run.kernel_variants[KernelNaming(frame["name"])] = df
    return run


#: The frames of ``Events`` an entry stores (lists and numbers go in the header).
_EVENT_FRAMES = ("api", "kernels", "kernel_names", "memory")


def _event_facts(events: Events) -> dict:
    return {
        "api_names": events.api_names,
        "memory_ops": events.memory_ops,
        "session_start_utc_ns": events.session_start_utc_ns,
        "capture_end_ns": events.capture_end_ns,
    }


def _decode_header_facts(header: dict) -> tuple[RunInfo, dict[str, str], ReportFormat]:
    info = RunInfo(**header["info"])
    return info, dict(header["skipped"]), ReportFormat(header["report_format"])
