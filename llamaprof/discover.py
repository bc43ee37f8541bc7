"""The reports folder: find the reports in it, watch it for changes, save new ones safely.

Kept streamlit-free so the folder logic (what counts as a report, when a file is
finished, how an upload is named) is unit-tested without a Streamlit runtime;
``llamaprof.ui`` only wires it to widgets.

Rules, from issue 3:

- A file still being written is never read half-way. Our own writers (uploads,
  pasted text, captures) write under a temporary name and rename; temporary
  names are never listed. A file copied in by another tool is *settling* until
  its size and mtime have not changed for ``SETTLE_S`` seconds.
- ``X.sqlite`` beside ``X.nsys-rep`` is the export nsys made of that report:
  the pair is listed once, as the ``.nsys-rep``.
- A file that cannot be read is listed with its reason; nothing else breaks.
- Each file state is sniffed once (``sniff_cached``); its format travels with its entry to
  the reader, which then does not sniff again.
- A run's name (``run_names``) is its file name without the report extension, or its path
  in the folder where that name is ambiguous: the name the app lists and puts in its links.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from llamaprof.cache import FileStamp
from llamaprof.errors import LlamaprofError, UnknownReportFormat
from llamaprof.model import ReportFormat, label_from_name
from llamaprof.record import record_path

#: Folder names never descended into (our disk cache, VCS folders).
SKIP_DIRS = frozenset({".llamaprof-cache", ".git", "__pycache__", ".ipynb_checkpoints"})
#: Name endings of files being written (ours and other tools'): never listed.
TEMP_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", ".download", "~", ".swp")
#: Files that sit in a reports folder but are not reports: not listed at all,
#: so a README or a capture record next to the reports does not show as "unreadable".
NOT_REPORT_SUFFIXES = (
    ".llamaprof.json", ".json", ".md", ".rst", ".py", ".sh", ".png", ".jpg", ".jpeg", ".svg",
    ".gif", ".html", ".gguf", ".qdstrm",
)  # fmt: skip
#: Report extensions nsys writes; the first matching one is kept whole by ``safe_name``.
NSYS_REP_SUFFIXES = (".nsys-rep", ".qdrep")
#: Seconds a copied-in file must stay unchanged before it is read.
SETTLE_S = 0.5
#: How many sniff results ``scan_reports`` keeps (oldest dropped first).
SNIFF_CACHE_SIZE = 4096

# FileStamp (path, size, mtime_ns) -> (format, error): every app rerun scans the folder, and opening
# each file to read 64 KiB of it again cost more than the rest of the scan. Only results
# that come from the file's bytes are kept; "cannot be read" may pass without a new mtime.
_sniffed: OrderedDict[FileStamp, tuple[ReportFormat | None, str | None]] = OrderedDict()
_sniffed_lock = threading.Lock()


def sniff_cached(path: Path, size: int, mtime_ns: int) -> tuple[ReportFormat | None, str | None]:
    """``sniff(path)`` as (format, None) or (None, one-line reason), cached per file state
    (its ``FileStamp``).

    A file keeps its entry while its size and mtime stay the same; thread-safe (the app
    serves several sessions), bounded by ``SNIFF_CACHE_SIZE``.
    """
    from llamaprof.sources import sniff

    key = FileStamp(str(path), size, mtime_ns)
    with _sniffed_lock:
        if key in _sniffed:
            _sniffed.move_to_end(key)
            return _sniffed[key]
    try:
        result: tuple[ReportFormat | None, str | None] = (sniff(path), None)
        keep = True
    except LlamaprofError as exc:
        result = (None, getattr(exc, "reason", str(exc)))
        keep = isinstance(exc, UnknownReportFormat)
    if keep:
        with _sniffed_lock:
            _sniffed[key] = result
            while len(_sniffed) > SNIFF_CACHE_SIZE:
                _sniffed.popitem(last=False)
    return result


@dataclass(frozen=True)
class ReportEntry:
    """One report file found in the folder (the run list's row before it is read).

    ``format`` is the sniffed format, or None when the file is settling or cannot
    be read; ``error`` is the one-line reason in the latter case. ``export`` is
    the SQLite export beside an ``.nsys-rep``, if any, ``export_stamp`` its state;
    ``record_stamp`` the state of the capture record beside the report (None: none).
    """

    path: Path
    rel: str  # path relative to the folder, POSIX separators: the run's id
    size: int  # bytes
    mtime_ns: int
    format: ReportFormat | None = None
    error: str | None = None
    settling: bool = False
    export: Path | None = None
    export_stamp: FileStamp | None = None
    record_stamp: FileStamp | None = None

    @property
    def readable(self) -> bool:
        """True when the file is finished and its content looks like a report."""
        return self.format is not None and not self.settling

    @property
    def stamp(self) -> FileStamp:
        """The report file's own state."""
        return FileStamp(str(self.path), self.size, self.mtime_ns)

    @property
    def report_identity(self) -> tuple[FileStamp, FileStamp | None]:
        """What the run's data depends on: the report and, for an ``.nsys-rep``, the export
        beside it (an export appearing or changing changes what the report reads to)."""
        return (self.stamp, self.export_stamp)

    @property
    def identity(self) -> tuple[FileStamp, FileStamp | None, FileStamp | None]:
        """What the run as a comparison sees it depends on: ``report_identity`` and the
        capture record's state. Equal identities mean equal runs and records."""
        return (*self.report_identity, self.record_stamp)


def is_temporary(name: str) -> bool:
    """True for names of files still being written (``x.part``, ``.x.tmp``) or hidden files."""
    return name.startswith(".") or name.lower().endswith(TEMP_SUFFIXES)


def _is_candidate(name: str) -> bool:
    # By extension only: a report may be called ``sources_of_latency.txt`` or
    # ``Readme-run.sqlite`` (README.md is left out by its ``.md``).
    return not (is_temporary(name) or name.lower().endswith(NOT_REPORT_SUFFIXES))


def _walk_files(folder: Path) -> Iterable[Path]:
    """Every candidate file under ``folder``, recursively, sorted, skipping SKIP_DIRS."""
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if _is_candidate(name):
                yield Path(dirpath) / name


def _sqlite_export_of(path: Path) -> Path | None:
    """The ``.nsys-rep`` that ``path`` (an ``X.sqlite``) is the export of, if it exists."""
    if path.suffix.lower() != ".sqlite":
        return None
    stem = path.name[: -len(".sqlite")]
    for suffix in NSYS_REP_SUFFIXES:
        rep = path.with_name(stem + suffix)
        if rep.exists():
            return rep
    return None


def _export_beside(path: Path) -> Path | None:
    """The ``X.sqlite`` export beside an ``X.nsys-rep``, if it exists."""
    lower = path.name.lower()
    for suffix in NSYS_REP_SUFFIXES:
        if lower.endswith(suffix):
            export = path.with_name(path.name[: -len(suffix)] + ".sqlite")
            return export if export.exists() else None
    return None


def scan_reports(folder: str | Path, *, now_ns: int | None = None) -> list[ReportEntry]:
    """The reports under ``folder`` (recursively), sorted by relative path.

    >>> [e.rel for e in scan_reports("reports")]        # doctest: +SKIP
    ['gemma3-4b-f16-fa-seed.txt', 'gemma3-4b-f16-nofa-generated.txt']

    A missing folder gives an empty list. ``now_ns`` (default: the clock) decides
    which files are still settling. Sniffing reads at most 64 KiB per file, once per
    file state (``sniff_cached``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    now_ns = time.time_ns() if now_ns is None else now_ns
    entries: list[ReportEntry] = []
    for path in _walk_files(folder):
        if _sqlite_export_of(path) is not None:
            continue
        try:
            st = path.stat()  # follows symlinks: a report added by path is a link
        except OSError as exc:
            # Vanished between listing and stat, or a dangling link: say so.
            rel = path.relative_to(folder).as_posix()
            reason = f"cannot be read ({exc.strerror})"
            entries.append(ReportEntry(path, rel, 0, 0, error=reason))
            continue
        if not path.is_file():
            continue
        export = _export_beside(path)
        export_stamp = FileStamp.of(export) if export is not None else None
        export_mtime = export_stamp.mtime_ns if export_stamp is not None else 0
        age_ns = now_ns - max(st.st_mtime_ns, export_mtime)
        # An mtime far in the future (clock skew on a network share) must not hide a
        # file forever: only the last SETTLE_S seconds (and 1 s of skew) count as writing.
        settling = -1e9 < age_ns < SETTLE_S * 1e9
        fmt, error = None, None
        if not settling:
            fmt, error = sniff_cached(path, st.st_size, st.st_mtime_ns)
        entries.append(
            ReportEntry(
                path=path,
                rel=path.relative_to(folder).as_posix(),
                size=st.st_size,
                mtime_ns=st.st_mtime_ns,
                format=fmt,
                error=error,
                settling=settling,
                export=export,
                export_stamp=export_stamp,
                record_stamp=FileStamp.of(record_path(path)),
            )
        )
    return entries


def run_names(entries: Iterable[ReportEntry]) -> dict[str, str]:
    """Each entry's run name (by ``rel``): its file name without the report extension where
    no other entry has that name, else its path in the folder without the extension where
    that is unique, else its whole path in the folder (always unique).

    The name people read in the run list and the app's links carry (``?run=NAME``).

    >>> from pathlib import Path
    >>> rels = ("a.txt", "x/b.sqlite", "y/b.sqlite", "c.txt", "c.csv")
    >>> run_names([ReportEntry(Path(r), r, 0, 0) for r in rels])
    {'a.txt': 'a', 'x/b.sqlite': 'x/b', 'y/b.sqlite': 'y/b', 'c.txt': 'c.txt', 'c.csv': 'c.csv'}
    """
    entries = list(entries)
    stems = {e.rel: label_from_name(e.path.name) for e in entries}
    bare = {e.rel: e.rel[: len(e.rel) - len(e.path.name)] + stems[e.rel] for e in entries}
    stem_count = Counter(stems.values())
    bare_count = Counter(bare.values())
    names = {}
    for entry in entries:
        if stem_count[stems[entry.rel]] == 1:
            names[entry.rel] = stems[entry.rel]
        elif bare_count[bare[entry.rel]] == 1:
            names[entry.rel] = bare[entry.rel]
        else:
            names[entry.rel] = entry.rel
    return names


def folder_signature(folder: str | Path) -> tuple[tuple[str, int, int], ...]:
    """A cheap fingerprint of the folder: (relative path, size, mtime_ns) of each candidate.

    Changes whenever a report appears, changes or disappears; no file is opened.
    Used where no watcher runs (tests, ``LLAMAPROF_NO_WATCH=1``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return ()
    sig = []
    for path in _walk_files(folder):
        try:
            st = path.stat()
        except OSError:
            continue
        sig.append((path.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns))
    return tuple(sig)


# --- saving new reports -------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9._+\-@=,]+")


def split_suffix(name: str) -> tuple[str, str]:
    """Split a file name into stem and extension, keeping ``.nsys-rep`` whole.

    >>> split_suffix("run.nsys-rep"), split_suffix("a.b.txt"), split_suffix("noext")
    (('run', '.nsys-rep'), ('a.b', '.txt'), ('noext', ''))
    """
    lower = name.lower()
    for suffix in NSYS_REP_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)], name[-len(suffix) :]
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return name, ""
    return stem, "." + ext


def safe_name(name: str, *, default: str = "report") -> str:
    """A file name safe to create in the reports folder, from a name a user gave.

    Drops any folder part (``/`` or ``\\``), replaces unusual characters with ``_``,
    strips leading dots (no hidden files, no ``..``) and keeps the extension.

    >>> safe_name("../../etc/passwd"), safe_name("C:\\\\x\\\\run 1.nsys-rep"), safe_name("..")
    ('passwd', 'run_1.nsys-rep', 'report')
    """
    base = re.split(r"[/\\]", name.replace("\x00", ""))[-1].strip()
    stem, ext = split_suffix(base)
    stem = _UNSAFE.sub("_", stem).strip("._ ") or default
    ext = _UNSAFE.sub("_", ext)
    ext = "" if ext in (".", "..") else ext
    result = (stem[:150] + ext)[:200]
    # "x.tmp", "x.PART." would be hidden from the run list as files being written.
    while is_temporary(result) and "." in result:
        head, _dot, tail = result.rpartition(".")
        result = f"{head}_{tail}"
    return result


def _taken(path: Path) -> bool:
    """True if ``path`` exists, or would pair with an existing file as report and export.

    ``X.sqlite`` beside ``X.nsys-rep`` (or ``.qdrep``) is read as that report's export:
    a new ``X.sqlite`` would hide itself and change what ``X.nsys-rep`` reads, and a new
    ``X.nsys-rep`` would hide an existing ``X.sqlite``.
    """
    if path.exists() or path.is_symlink():
        return True
    stem, ext = split_suffix(path.name)
    ext = ext.lower()
    if ext == ".sqlite":
        partners = [stem + s for s in NSYS_REP_SUFFIXES]
    elif ext in NSYS_REP_SUFFIXES:
        partners = [stem + ".sqlite"]
    else:
        return False
    return any((path.parent / p).exists() or (path.parent / p).is_symlink() for p in partners)


def unique_path(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/stem-2.ext``, ``-3`` ... : the first that is free.

    Free means no file of that name, and no report/export partner (see ``_taken``).
    """
    candidate = folder / name
    stem, ext = split_suffix(name)
    n = 2
    while _taken(candidate):
        candidate = folder / f"{stem}-{n}{ext}"
        n += 1
    return candidate


def _claim(tmp: Path, folder: Path, name: str) -> Path:
    """Give ``tmp`` its final unique name in ``folder``, never replacing an existing file."""
    for _ in range(1000):
        final = unique_path(folder, name)
        try:
            # A hard link fails if the name exists, even if another writer took it
            # between unique_path and now: no overwrite, ever.
            os.link(tmp, final)
        except FileExistsError:
            continue
        except OSError:
            # File systems without hard links: copy into a file created exclusively
            # (O_EXCL fails on an existing name), so nothing is overwritten here either.
            # The copy is visible while written; its fresh mtime keeps it "settling".
            try:
                _copy_exclusive(tmp, final)
            except FileExistsError:
                continue
            except OSError as exc:
                raise LlamaprofError(f"cannot write to {folder}: {exc.strerror or exc}") from None
            tmp.unlink()
            return final
        tmp.unlink()
        return final
    raise LlamaprofError(f"no free file name for {name} in {folder}")


def _copy_exclusive(src: Path, dest: Path) -> None:
    """Copy ``src`` to a new file ``dest``; FileExistsError if ``dest`` exists."""
    with src.open("rb") as fin, dest.open("xb") as fout:  # "x": fails on an existing name
        try:
            shutil.copyfileobj(fin, fout, 1 << 20)
            fout.flush()
            os.fsync(fout.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                dest.unlink()  # ours: created by the "xb" open above
            raise


def save_upload(folder: str | Path, name: str, data: bytes | BinaryIO) -> Path:
    """Save an uploaded or pasted report into ``folder`` under a safe, unused name.

    ``data`` is bytes or a binary file object (streamed in 1 MiB chunks). The
    content goes to a hidden temporary file in the same folder first and gets its
    final name only when complete, so the run list never sees half a file.
    Returns the final path. Raises LlamaprofError when the folder is not writable.
    """
    folder = Path(folder)
    final_name = safe_name(name)
    tmp = folder / f".{final_name}.{uuid.uuid4().hex[:8]}.part"
    try:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tmp.open("xb") as fh:
                if isinstance(data, bytes | bytearray | memoryview):
                    fh.write(data)
                else:
                    shutil.copyfileobj(data, fh, 1 << 20)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise LlamaprofError(f"cannot write to {folder}: {exc.strerror or exc}") from None
        return _claim(tmp, folder, final_name)
    finally:
        # Whatever happened (disk full, the upload stream failing, an interrupt), the
        # half-written temporary file must not stay behind and fill the disk.
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def add_by_path(folder: str | Path, source: str | Path) -> Path:
    """Add a report that is too big to upload: link it into ``folder`` (copy if links fail).

    The source must exist and sniff as a report. Returns the new entry's path.
    Raises LlamaprofError with a one-line reason otherwise.
    """
    from llamaprof.sources import sniff

    folder = Path(folder)
    source = Path(source).expanduser()
    if not source.is_file():
        raise LlamaprofError(f"{source} is not a file")
    sniff(source)  # raises ReportParseError / UnknownReportFormat with the reason
    source = source.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    if source.parent == folder.resolve():
        raise LlamaprofError(f"{source.name} is already in the reports folder")
    name = safe_name(source.name)
    for _ in range(1000):
        final = unique_path(folder, name)
        try:
            final.symlink_to(source)
            return final
        except FileExistsError:
            continue
        except OSError:
            with source.open("rb") as fh:
                return save_upload(folder, name, fh)
    raise LlamaprofError(f"no free file name for {name} in {folder}")


# --- watching -------------------------------------------------------------------------------


def is_relevant_path(folder: Path, path: str | bytes) -> bool:
    """True if a change at ``path`` (below ``folder``) can change the run list."""
    text = os.fsdecode(path)
    try:
        parts = Path(text).relative_to(folder).parts
    except ValueError:
        return True  # the watched folder itself (deleted, moved)
    if any(p in SKIP_DIRS or p.startswith(".") for p in parts[:-1]):
        return False
    return not parts or not is_temporary(parts[-1])


class FolderWatcher:
    """One watchdog Observer watching any number of folders, recursively.

    Every file-system event below a watched folder bumps ``generation``, a counter
    readers compare against the value they last saw (thread-safe: the observer
    thread writes it, app sessions read it). ``watch(folder)`` is idempotent and
    cheap, so callers invoke it on every refresh: that is also how the watcher
    survives a folder that vanishes and comes back (the old watch is dropped when
    the folder's identity changes, and a new one is scheduled once it exists).
    """

    def __init__(self) -> None:
        from watchdog.observers import Observer

        self._lock = threading.Lock()
        self._generation = 0
        self._watches: dict[Path, tuple[object, tuple[int, int] | None]] = {}
        self._observer = Observer()
        self._observer.daemon = True
        self._observer.start()

    @property
    def generation(self) -> int:
        """Number of changes seen so far (any folder)."""
        with self._lock:
            return self._generation

    def bump(self) -> None:
        """Record a change (called from the observer thread, or by hand)."""
        with self._lock:
            self._generation += 1

    def watch(self, folder: str | Path) -> bool:
        """Make sure ``folder`` is watched; returns False while it does not exist."""
        from watchdog.events import FileSystemEventHandler

        folder = Path(folder).resolve()
        try:
            st = folder.stat()
            ident: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except OSError:
            ident = None
        with self._lock:
            current = self._watches.get(folder)
        if current is not None and current[1] == ident and ident is not None:
            return True
        if current is not None:  # the folder vanished or was replaced
            self._unschedule(current[0])
            with self._lock:
                self._watches.pop(folder, None)
            self.bump()
        if ident is None:
            return False

        watcher = self

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event: object) -> None:
                # Opening or just reading a file is no change to the run list, and
                # neither is our disk cache or a temporary file being written: bumping
                # on those would make every reader trigger another refresh.
                if getattr(event, "event_type", "") in ("opened", "closed_no_write"):
                    return
                paths = (getattr(event, "src_path", ""), getattr(event, "dest_path", ""))
                if any(p and is_relevant_path(Path(folder), p) for p in paths):
                    watcher.bump()

        try:
            handle = self._observer.schedule(_Handler(), str(folder), recursive=True)
        except OSError:
            return False  # vanished again between stat and schedule; next call retries
        with self._lock:
            self._watches[folder] = (handle, ident)
        self.bump()
        return True

    def _unschedule(self, handle: object) -> None:
        # KeyError/OSError: its emitter already stopped with the deleted folder.
        with contextlib.suppress(KeyError, OSError):
            self._observer.unschedule(handle)  # type: ignore[arg-type]

    def stop(self) -> None:
        """Stop the observer thread (tests; the app keeps it for the process lifetime)."""
        self._observer.stop()
        self._observer.join(timeout=5)
