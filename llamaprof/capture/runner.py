"""Orchestration: one capture, A/B sets with repeats, progress, cancel, one at a time.

``run_capture(cfg)`` does for each planned run what the seed walkthrough does by hand:
start llama-server (under ``nsys profile`` unless ``cfg.profile`` is False), wait for
``/health``, send the workload, stop the server with one SIGINT, let nsys write its report,
export the SQLite, and write the record. Everything is written under
``<reports>/.<name>.capture-tmp/`` and renamed into the reports folder only at the end, so a
failure or a cancel stops every process and leaves nothing of the run in progress behind;
the runs of an A/B set that completed before it are kept (each is whole) and named. nsys
runs with ``TMPDIR`` in that folder too, so the ``nsys-report-*.qdstrm`` a hung nsys leaves
goes with it, never into /tmp.

Every wait is bounded: for ``/health`` (``health_timeout_s``), for llama-server to exit
(``stop_timeout_s``), for nsys to write its report and for the export (``report_timeout_s``,
by default ``server.report_timeout``: at least 60 s). nsys that outlives its timeout is
stopped with everything it started (see ``server``), and the failure names the cause.

Only one capture runs at a time per user: a lock file (``flock``) held for the whole
capture, shared by the CLI and the app. Kept streamlit-free.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests

from llamaprof import __version__
from llamaprof import record as rec
from llamaprof.capture import files
from llamaprof.capture.command import (
    build_nsys_command,
    build_server_command,
    check_server_args,
    config_labels,
    nsys_profile_options,
    parse_server_args,
    slug,
)
from llamaprof.capture.config import ENV_KNOB_PREFIXES, CaptureConfig, Variant
from llamaprof.capture.nsys import export_sqlite, find_nsys, nsys_version, resolve_executable
from llamaprof.capture.preflight import gpu_info, no_cuda_reason
from llamaprof.capture.server import (
    ServerProcess,
    StopOutcome,
    describe_status,
    free_port,
    port_in_use,
    server_version,
)
from llamaprof.capture.workload import fetch_metrics, run_workload, summarize
from llamaprof.errors import (
    CaptureBusy,
    CaptureCancelled,
    CaptureFailed,
    CaptureRefused,
    ExportFailed,
)
from llamaprof.gguf import model_weights
from llamaprof.policy import capture_allowed

try:
    import fcntl
except ImportError:  # pragma: no cover - not Linux/macOS: captures need nsys on Linux anyway
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

# The steps a run goes through, as progress shows them.
CHECKING = "checking"
STARTING = "starting llama-server"
HEALTH = "waiting for /health"
WORKLOAD = "sending requests"
STOPPING = "stopping llama-server"
REPORT = "waiting for nsys to write its report"  # llama-server has exited
EXPORTING = "exporting SQLite"
RECORDING = "writing the record"
DONE = "done"

#: The wall-clock marks of a run's ``clock`` (``time.time_ns()``; see ``llamaprof.record``).
CLOCK_MARKS = (
    "capture_start_ns",
    "server_ready_ns",
    "workload_start_ns",
    "workload_end_ns",
    "stop_ns",
)
#: The folder in a run's hidden work folder that nsys gets as $TMPDIR.
NSYS_TMP = "nsys-tmp"


@dataclass(frozen=True)
class CaptureProgress:
    """A snapshot of a capture in progress, handed to the ``on_progress`` callback."""

    step: str
    run: int  # 1-based index of the run in progress
    runs: int
    name: str
    label: str
    elapsed_s: float  # since this run started
    total_elapsed_s: float  # since the capture started
    requests_done: int = 0
    requests_total: int = 0
    log_tail: tuple[str, ...] = ()

    def line(self) -> str:
        """One line for a terminal: ``[1/2 -fa on] sending requests 3/8 (4.2 s)``."""
        where = f"[{self.run}/{self.runs} {self.label}]" if self.runs > 1 else f"[{self.label}]"
        counts = f" {self.requests_done}/{self.requests_total}" if self.step == WORKLOAD else ""
        return f"{where} {self.step}{counts} ({self.elapsed_s:.1f} s)"


@dataclass(frozen=True)
class PlannedRun:
    """One run of a capture: its unique name, label, config and place among repeats.

    Each config of a set is one repeat group, ``<set id>/<config index + 1>``; the set id
    is the capture's time stamp, shared by every run of the set.
    """

    name: str
    label: str
    variant: Variant  # what this config adds to the shared args and environment
    args: tuple[str, ...]  # the server args: shared, then the variant's
    env: dict[str, str]  # the environment set for it: shared, then the variant's
    repeat_index: int  # 1-based
    repeat_of: int
    group: str  # "<set id>/<config index + 1>"
    # Defaults only for a run built by hand (progress tests); plan_runs sets them all.
    set_id: str = ""  # the capture's time stamp
    configs: tuple[str, ...] = ()  # every config's label, in order
    config_index: int = 0  # 0-based


def plan_runs(cfg: CaptureConfig, now: datetime | None = None) -> list[PlannedRun]:
    """The runs ``cfg`` asks for, in order: each config, each repeated ``cfg.repeat`` times.

    Names are ``<name or time>_<config>`` (``_r<i>`` for repeats), unique in the reports
    folder: ``20250714-120000_fa-on_r2``. A single config named by the user keeps its name.
    The repeats of each config form one group, ``<time>/<config number>``.
    """
    now = now or datetime.now()
    stamp = now.strftime("%Y%m%d-%H%M%S")
    variants = cfg.variants or [Variant()]
    combined = [Variant((*cfg.server_args, *v.args), (*cfg.env.items(), *v.env)) for v in variants]
    labels = config_labels(combined)
    runs: list[PlannedRun] = []
    taken: set[str] = set()
    for config_index, (variant, full, label) in enumerate(
        zip(variants, combined, labels, strict=True)
    ):
        base = (
            cfg.name
            if cfg.name and len(variants) == 1
            else f"{cfg.name or stamp}_{slug(label)}"
        )
        for i in range(1, cfg.repeat + 1):
            wanted = f"{base}_r{i}" if cfg.repeat > 1 else base
            name = files.unique_name(cfg.reports_dir, wanted, taken)
            taken.add(name)
            runs.append(
                PlannedRun(
                    name=name,
                    label=label,
                    variant=variant,
                    args=full.args,
                    env=full.env_dict,
                    repeat_index=i,
                    repeat_of=cfg.repeat,
                    group=f"{stamp}/{config_index + 1}",
                    set_id=stamp,
                    configs=tuple(labels),
                    config_index=config_index,
                )
            )
    return runs


@dataclass
class Prepared:
    """A config checked against this machine: resolved paths and the planned runs.

    ``notes``: what the user should know before it starts, one line each (a profiled
    capture on a machine where no NVIDIA driver answers records no CUDA data).
    """

    cfg: CaptureConfig
    server: str
    model: Path
    nsys: str | None
    nsys_options: list[str]
    runs: list[PlannedRun]
    notes: list[str] = field(default_factory=list)


def prepare(cfg: CaptureConfig, now: datetime | None = None) -> Prepared:
    """Check everything that can fail before a process starts; raise a one-line error.

    Missing llama-server, model or nsys, server args that set the host, port or model,
    a port in use, a reports folder that cannot be written.
    """
    cfg.validate()
    check_server_args(cfg.server_args)
    for variant in cfg.variants:
        check_server_args(variant.args)
    server = resolve_executable(cfg.server, "llama-server")
    model = Path(cfg.model).expanduser()
    if not model.is_file():
        raise CaptureFailed(f"model not found: {cfg.model}")
    nsys = find_nsys(cfg.nsys) if cfg.profile else None
    options = nsys_profile_options(cfg.nsys_args, cfg.cuda_graph_nodes) if cfg.profile else []
    try:
        cfg.reports_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CaptureFailed(f"cannot create the reports folder {cfg.reports_dir}: {exc}") from None
    if not os.access(cfg.reports_dir, os.W_OK):
        raise CaptureFailed(f"the reports folder is not writable: {cfg.reports_dir}")
    if cfg.port is not None and port_in_use(cfg.port):
        raise CaptureFailed(f"port {cfg.port} on 127.0.0.1 is in use")
    notes = []
    if nsys is not None:
        why = no_cuda_reason()
        if why:
            notes.append(
                f"{why}: the report will hold no CUDA data (no kernels, CUDA API calls or "
                "memory copies), only what nsys traces on the CPU; capturing anyway"
            )
    return Prepared(cfg, server, model.absolute(), nsys, options, plan_runs(cfg, now), notes)


# --- one capture at a time -------------------------------------------------------------


def default_lock_path() -> Path:
    """``$LLAMAPROF_CAPTURE_LOCK``, else ``$XDG_RUNTIME_DIR/llamaprof-capture.lock``, else
    ``~/.cache/llamaprof/capture.lock``.

    Never a shared folder such as /tmp, where another user could plant a link at the
    predictable name; both defaults belong to the user alone.
    """
    env = os.environ.get("LLAMAPROF_CAPTURE_LOCK")
    if env:
        return Path(env)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime) and Path(runtime).is_dir():
        return Path(runtime) / "llamaprof-capture.lock"
    return Path.home() / ".cache" / "llamaprof" / "capture.lock"


# The lock file is never followed through a symbolic link: opening one elsewhere would let
# whoever planted it have llamaprof truncate and write a file of theirs choosing.
_LOCK_FLAGS = os.O_CREAT | os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class CaptureLock:
    """An exclusive ``flock`` on a lock file: one capture at a time, across processes.

    The kernel releases it when the holder exits, however it exits, so a crash never
    leaves a stale lock.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_lock_path()
        self._file = None

    def acquire(self) -> None:
        """Take the lock; CaptureBusy while another capture holds it, CaptureFailed when
        the lock file cannot be opened (or is a symbolic link)."""
        f = self._open()
        if fcntl is not None:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip()
                f.close()
                raise CaptureBusy(
                    f"another capture is running{f' ({holder})' if holder else ''}; "
                    "wait for it or cancel it"
                ) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}")
        f.flush()
        self._file = f

    def _open(self):
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # ~/.cache/...
            fd = os.open(self.path, _LOCK_FLAGS, 0o600)
        except OSError as exc:
            if self.path.is_symlink():
                raise CaptureFailed(
                    f"the capture lock {self.path} is a symbolic link; not following it"
                ) from None
            raise CaptureFailed(
                f"cannot open the capture lock {self.path}: {exc.strerror or exc}"
            ) from None
        return os.fdopen(fd, "r+", encoding="utf-8", errors="replace")

    def release(self) -> None:
        if self._file is not None:
            self._file.truncate(0)
            self._file.close()  # closing releases the flock
            self._file = None


def capture_running(lock_path: Path | None = None) -> bool:
    """True while a capture holds the lock, judged without touching the lock.

    The holder writes ``pid N`` into the lock file and empties it on release; a holder
    that was killed leaves its pid behind, which is then no running process.
    """
    try:
        fd = os.open(lock_path or default_lock_path(), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd) as f:
            text = f.read().strip()
    except (OSError, UnicodeDecodeError):
        return False
    if not text.startswith("pid "):
        return False
    try:
        os.kill(int(text[4:]), 0)
    except ValueError:
        return False
    except PermissionError:
        return True  # a process of another user: alive
    except OSError:
        return False
    return True


def interrupted_captures(reports_dir: str | Path, lock_path: Path | None = None) -> list[Path]:
    """The ``.<name>.capture-tmp`` folders in ``reports_dir`` left by a capture that was killed.

    A capture writes only there until its run is complete, so a crash (the app or the CLI
    killed, the machine rebooted) leaves the reports themselves consistent; this finds
    what it left, to tell the user. Empty while a capture is running (its folder is live).
    """
    try:
        found = sorted(p for p in Path(reports_dir).glob(".*" + files.TMP_DIR_SUFFIX) if p.is_dir())
    except OSError:
        return []
    if not found or capture_running(lock_path):
        return []
    return found


# --- progress ----------------------------------------------------------------------------


class _Reporter:
    """Builds CaptureProgress snapshots; step changes always, ticks at most twice a second.

    Thread-safe: every workload client reports its answers from its own thread, so the
    state and the callback are serialised by one lock, and the request count only grows
    (a client that counted 2 may report after the one that counted 3).
    """

    def __init__(self, callback: Callable[[CaptureProgress], None] | None, runs: int) -> None:
        self.callback = callback
        self.runs = runs
        self.t0 = time.monotonic()
        self.run_t0 = self.t0
        self.index = 0
        self.run: PlannedRun | None = None
        self.step_name = CHECKING
        self.done = 0
        self.total = 0
        self.log_tail: Callable[[int], list[str]] | None = None  # the running log's
        self._last = 0.0
        self._lock = threading.RLock()

    def begin(self, index: int, run: PlannedRun, requests_total: int) -> None:
        with self._lock:
            self.index, self.run, self.total, self.done = index, run, requests_total, 0
            self.run_t0 = time.monotonic()
            self.log_tail = None

    def step(self, name: str) -> None:
        with self._lock:
            self.step_name = name
            self.emit()

    def requests(self, done: int) -> None:
        with self._lock:
            self.done = max(self.done, done)
            self.emit()

    def tick(self) -> None:
        with self._lock:
            if time.monotonic() - self._last >= 0.5:
                self.emit()

    def emit(self) -> None:
        with self._lock:
            self._emit()

    def _emit(self) -> None:
        self._last = time.monotonic()
        if self.callback is None or self.run is None:
            return
        self.callback(
            CaptureProgress(
                step=self.step_name,
                run=self.index + 1,
                runs=self.runs,
                name=self.run.name,
                label=self.run.label,
                elapsed_s=self._last - self.run_t0,
                total_elapsed_s=self._last - self.t0,
                requests_done=self.done,
                requests_total=self.total,
                log_tail=tuple(self.log_tail(12)) if self.log_tail else (),
            )
        )


# --- facts about the machine -------------------------------------------------------------


def env_knobs(effective: dict[str, str], set_by_user: dict[str, str]) -> dict[str, str]:
    """What to record of the environment: what the user set, and every GGML_/LLAMA_ARG_/
    CUDA_ variable in effect (llama-server reads most flags from LLAMA_ARG_* too)."""
    keys = set(set_by_user) | {k for k in effective if k.startswith(ENV_KNOB_PREFIXES)}
    return {k: effective[k] for k in sorted(keys) if k in effective}


def _props(base_url: str) -> dict:
    """A few facts from ``GET /props`` (empty if it does not answer)."""
    with requests.Session() as session:
        session.trust_env = False
        try:
            data = session.get(base_url + "/props", timeout=(5, 30)).json()
        except (requests.RequestException, ValueError):
            return {}
    if not isinstance(data, dict):
        return {}
    settings = data.get("default_generation_settings") or {}
    return {
        "build_info": data.get("build_info"),
        "model_path": data.get("model_path"),
        "total_slots": data.get("total_slots"),
        "n_ctx": settings.get("n_ctx") if isinstance(settings, dict) else None,
    }


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- running -----------------------------------------------------------------------------


@dataclass
class _Shared:
    """Facts probed once per capture, shared by its runs."""

    llama_server: str | None = None
    nsys: str | None = None
    gpu: list[dict] | None = None


def run_capture(
    cfg: CaptureConfig | Prepared,
    *,
    on_progress: Callable[[CaptureProgress], None] | None = None,
    on_record: Callable[[dict], None] | None = None,
    cancel: threading.Event | None = None,
    lock: CaptureLock | None = None,
) -> list[dict]:
    """Capture every planned run, one after another; returns their records.

    Raises CaptureFailed (or a subclass: ConfigError, CaptureBusy, CaptureCancelled) with a
    one-line reason; ``stderr_tail`` holds the end of the server's log where it helps.
    When a run of an A/B set fails, the runs before it stay in the reports folder (each
    is complete) and the message names them.

    ``lock``: an already acquired CaptureLock to use (and leave held); by default one is
    acquired and released here.
    """
    prepared = cfg if isinstance(cfg, Prepared) else prepare(cfg)
    cancel = cancel or threading.Event()
    own_lock = lock is None
    if own_lock:
        lock = CaptureLock()
        lock.acquire()
    try:
        c = prepared.cfg
        reporter = _Reporter(on_progress, len(prepared.runs))
        base_env = {**os.environ, **c.env}
        shared = _Shared(
            llama_server=server_version(prepared.server, base_env),
            nsys=nsys_version(prepared.nsys, base_env) if prepared.nsys else None,
            gpu=gpu_info(),
        )
        records: list[dict] = []
        for index, run in enumerate(prepared.runs):
            try:
                if cancel.is_set():
                    raise CaptureCancelled()
                reporter.begin(index, run, c.workload.requests)
                record = _capture_one(prepared, run, shared, reporter, cancel)
            except CaptureFailed as exc:
                if records:  # the runs finished before it are in the folder, and stay
                    kept = ", ".join(r["name"] for r in records)
                    if isinstance(exc, CaptureCancelled):
                        exc.reason = (
                            exc.reason.replace("nothing kept", "the run in progress not kept")
                            + f"; kept the runs finished before it: {kept}"
                        )
                    else:
                        exc.reason = f"{run.name}: {exc.reason} (kept the runs before it: {kept})"
                raise
            records.append(record)
            if on_record is not None:
                on_record(record)
        return records
    finally:
        if own_lock and lock is not None:
            lock.release()


def _capture_one(
    prepared: Prepared,
    run: PlannedRun,
    shared: _Shared,
    reporter: _Reporter,
    cancel: threading.Event,
) -> dict:
    cfg = prepared.cfg
    reports = cfg.reports_dir
    tmp = reports / f".{run.name}{files.TMP_DIR_SUFFIX}"
    try:
        tmp.mkdir()
    except FileExistsError:
        raise CaptureFailed(f"{tmp} exists: another capture is writing {run.name}") from None
    port = cfg.port or free_port()
    server_cmd = build_server_command(prepared.server, str(prepared.model), run.args, port)
    report_file = tmp / (run.name + rec.REPORT_SUFFIX)
    sqlite_file = tmp / (run.name + rec.SQLITE_SUFFIX)
    nsys_cmd = (
        build_nsys_command(prepared.nsys, tmp / run.name, prepared.nsys_options, server_cmd)
        if prepared.nsys
        else None
    )
    env = {**os.environ, **run.env}
    # nsys writes its temporary files (nsys-report-*.qdstrm, a lock folder) into $TMPDIR:
    # inside the run's hidden folder, they go with it whatever happens (a hung nsys would
    # leave them in /tmp). llama-server, nsys's child, inherits it and writes nothing there.
    nsys_tmp = tmp.absolute() / NSYS_TMP  # absolute: nsys's agent runs in another folder
    nsys_env = {**env, "TMPDIR": str(nsys_tmp)}
    started = _now_iso()
    t0 = time.monotonic()
    proc: ServerProcess | None = None
    clock: dict[str, int | None] = dict.fromkeys(CLOCK_MARKS)
    try:
        reporter.step(STARTING)
        if nsys_cmd is not None:
            nsys_tmp.mkdir()
        clock["capture_start_ns"] = time.time_ns()
        proc = ServerProcess(
            nsys_cmd or server_cmd,
            nsys_env if nsys_cmd else env,
            tmp / "server.log",
            port,
            profiled=nsys_cmd is not None,
        )
        reporter.log_tail = proc.log_tail
        reporter.step(HEALTH)
        startup_s = proc.wait_healthy(cfg.health_timeout_s, cancel, reporter.tick)
        clock["server_ready_ns"] = time.time_ns()
        server_pid = proc.locate()
        props = _props(proc.base_url)
        metrics_before = fetch_metrics(proc.base_url)
        reporter.step(WORKLOAD)
        result = run_workload(
            proc.base_url,
            cfg.workload,
            cancel=cancel,
            on_request=reporter.requests,
            tick=reporter.tick,
        )
        metrics_after = fetch_metrics(proc.base_url)
        if cancel.is_set():
            raise CaptureCancelled()
        # Every session of the workload is closed by now: one SIGINT stops llama-server.
        reporter.step(STOPPING)
        clock["workload_start_ns"], clock["workload_end_ns"] = result.start_ns, result.end_ns
        clock["stop_ns"] = time.time_ns()  # stop() sends the SIGINT first thing
        outcome = proc.stop(
            cfg.stop_timeout_s,
            cfg.report_timeout_s,
            reporter.tick,
            cancel,
            on_server_exit=lambda: reporter.step(REPORT),
        )
        problems = list(outcome.problems)
        export_cmd = None
        export_s = None
        if nsys_cmd is not None:
            problems = _check_report(proc, outcome, report_file, problems)
            reporter.step(EXPORTING)
            t_export = time.monotonic()
            assert prepared.nsys is not None and outcome.report_timeout_s is not None
            try:
                export_cmd = export_sqlite(
                    prepared.nsys,
                    report_file,
                    sqlite_file,
                    timeout_s=outcome.report_timeout_s,
                    cancel=cancel,
                    env=nsys_env,
                )
            except ExportFailed as exc:
                raise CaptureFailed(exc.reason, exc.returncode, exc.stderr_tail) from None
            export_s = time.monotonic() - t_export
        elif outcome.server_status not in (0, None):
            problems.append(f"llama-server exited with status {outcome.server_status}")
        reporter.step(RECORDING)
        weights, weights_note = model_weights(prepared.model)
        if weights_note:
            problems.append(weights_note)
        record = {
            "schema": rec.SCHEMA,
            "name": run.name,
            "label": run.label,
            "config": {"args": list(run.variant.args), "env": run.variant.env_dict},
            "created": _now_iso(),
            "started": started,
            "ended": _now_iso(),
            "profiled": nsys_cmd is not None,
            "commands": {"nsys": nsys_cmd, "server": server_cmd, "export": export_cmd},
            "server_args": parse_server_args(server_cmd[1:]),
            "env": env_knobs(env, run.env),
            "model": {
                "path": str(prepared.model),
                "size_bytes": prepared.model.stat().st_size,
                "weights": None if weights is None else asdict(weights),
            },
            "versions": {
                "llama_server": shared.llama_server,
                "nsys": shared.nsys,
                "llamaprof": __version__,
                "build_info": props.get("build_info"),
            },
            "gpu": shared.gpu,
            "server": {"pid": server_pid, "port": port, "props": props},
            "workload": cfg.workload.to_dict(),
            "requests": result.requests,
            "totals": summarize(result.requests, result.wall_s),
            "metrics": {"before": metrics_before, "after": metrics_after},
            "durations": {
                "startup_s": round(startup_s, 3),
                "workload_s": round(result.wall_s, 3),
                "stop_s": round(outcome.stop_s, 3),
                "export_s": None if export_s is None else round(export_s, 3),
                "total_s": round(time.monotonic() - t0, 3),
            },
            "exit": {
                "server": outcome.server_status,
                "nsys": outcome.nsys_status,
                "escalated": outcome.escalated,
                "signals": [s.to_dict() for s in outcome.signals],
            },
            "repeat": {"group": run.group, "index": run.repeat_index, "of": run.repeat_of},
            "set": {
                "id": run.set_id,
                "configs": list(run.configs),
                "config_index": run.config_index,
            },
            "settings": {"args": list(run.args), "env": dict(run.env)},
            "clock": clock,
            "problems": problems,
            "report": report_file.name if nsys_cmd else None,
            "sqlite": sqlite_file.name if nsys_cmd else None,
            "server_log_tail": proc.log_tail(files.LOG_TAIL_LINES),
        }
        files.write_json_atomic(tmp / (run.name + rec.RECORD_SUFFIX), record)
        (tmp / "server.log").unlink()
        shutil.rmtree(nsys_tmp, ignore_errors=True)
        _publish(
            tmp,
            reports,
            [
                sqlite_file.name if nsys_cmd else None,
                report_file.name if nsys_cmd else None,
                run.name + rec.RECORD_SUFFIX,  # last: a record means the run is complete
            ],
        )
        reporter.step(DONE)
        return record
    except BaseException as exc:
        if proc is not None:
            nsys_gone = proc.nsys_exited_early()  # before kill(), which ends it anyway
            # Stop first: llama-server may log the failure after answering the request,
            # and its log is complete only once it has exited.
            stopped = proc.kill()
            if isinstance(exc, CaptureFailed):
                _explain(exc, proc, nsys_gone, stopped.survivors)
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _check_report(
    proc: ServerProcess, outcome: StopOutcome, report: Path, problems: list[str]
) -> list[str]:
    """Whether the report nsys left can be kept; raises CaptureFailed when it cannot.

    After a hang, a report counts only if nsys said it had written it (``Generated:`` and
    its path, the last thing nsys prints); a report nsys was still writing is never kept.
    Returns the problems to record.
    """
    tail = proc.log_tail(60)
    if outcome.nsys_hung:
        where = os.path.abspath(report)
        written = report.is_file() and any(
            line.strip() == "Generated:" and os.path.abspath(nxt.strip()) == where
            for line, nxt in itertools.pairwise(tail)
        )
        if not written:
            raise CaptureFailed(
                f"nsys did not write its report within {outcome.report_timeout_s:g} s after "
                "llama-server exited; it was stopped (nsys hung)",
                returncode=outcome.nsys_status,
                stderr_tail="\n".join(tail[-30:]),
            )
        return [
            f"nsys wrote its report but did not exit within {outcome.report_timeout_s:g} s "
            "after llama-server exited; it was stopped (nsys hung)"
            if p.endswith("(nsys hung)")
            else p
            for p in problems
        ]
    if not report.is_file():
        raise CaptureFailed(
            f"nsys {describe_status(outcome.nsys_status)} and wrote no report",
            returncode=outcome.nsys_status,
            stderr_tail="\n".join(tail[-30:]),
        )
    return problems


def _explain(
    exc: CaptureFailed, proc: ServerProcess, nsys_gone: bool, survivors: list[str]
) -> None:
    """Make a failure's one line name its real cause, and keep the end of the log."""
    if survivors:
        left = ", ".join(survivors)
        if isinstance(exc, CaptureCancelled):
            exc.reason = f"capture cancelled; nothing kept, but these processes survive: {left}"
        else:
            exc.reason = f"{exc.reason}; these processes could not be stopped: {left}"
    if isinstance(exc, CaptureCancelled):
        return
    if nsys_gone:
        # llama-server went with it, so the failure seen (a refused request) is a symptom.
        exc.reason = (
            f"nsys {describe_status(proc.root.returncode)} during the capture "
            f"(then: {exc.reason}); everything it had started was stopped"
        )
        exc.returncode = proc.root.returncode
    if not exc.stderr_tail:
        exc.stderr_tail = "\n".join(proc.log_tail(30))


def _publish(tmp: Path, reports: Path, names: list[str | None]) -> None:
    """Move the run's files from its temporary folder into the reports folder, never over
    an existing file; on any failure, take back what was moved."""
    moved: list[tuple[Path, Path]] = []
    try:
        for name in names:
            if name is None:
                continue
            target = reports / name
            _move_without_replacing(tmp / name, target)
            moved.append((tmp / name, target))
        tmp.rmdir()
    except BaseException:
        for source, target in reversed(moved):
            with contextlib.suppress(OSError):
                target.rename(source)
        raise


def _move_without_replacing(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target`` unless ``target`` exists, with no window between the
    check and the move: a hard link fails on an existing name (rename would replace it)."""
    appeared = CaptureFailed(f"{target} appeared during the capture; not overwriting it")
    try:
        os.link(source, target)
    except FileExistsError:
        raise appeared from None
    except OSError:  # a file system without hard links: check, then rename
        if target.exists():
            raise appeared from None
        source.rename(target)
        return
    source.unlink()


# --- in the background (the app) --------------------------------------------------------


class BackgroundCapture:
    """Runs one capture at a time in a thread; the app keeps one for its whole process.

    ``start`` checks the config and takes the capture lock before it returns, so its
    errors (missing files, another capture running) reach the caller at once. ``progress``,
    ``records``, ``error`` and ``cancelled`` may be read from any thread while it runs.

    ``listen_address``: for the app, a function returning the address it listens on;
    ``start`` then refuses (CaptureRefused) unless ``policy.capture_allowed`` allows it,
    whatever the page let through. The CLI passes none: its user runs it on this machine.
    ``on_note``: called with each of ``Prepared.notes`` once the config is checked, before
    anything starts. ``cancel_reason``: the one line a cancelled capture ended with.
    """

    def __init__(
        self,
        on_progress: Callable[[CaptureProgress], None] | None = None,
        *,
        listen_address: Callable[[], str | None] | None = None,
        on_note: Callable[[str], None] | None = None,
    ) -> None:
        self._listen_address = listen_address
        self._on_note = on_note
        self._mutex = threading.Lock()
        self._cancel = threading.Event()
        # Set when the capture thread has finished everything. Waiting on an Event, not on
        # Thread.join: in CPython 3.11 a Ctrl-C during join() can leave a live thread marked
        # as stopped (seen here: the CLI then exited 0 mid-capture), and the CLI waits in
        # the main thread, where Ctrl-C lands.
        self._finished = threading.Event()
        self._finished.set()
        self._on_progress = on_progress
        self.progress: CaptureProgress | None = None
        self.records: list[dict] = []
        self.error: CaptureFailed | None = None
        self.cancelled = False
        self.cancel_reason: str | None = None
        self.reports_dir: Path | None = None  # the folder of the last capture started
        atexit.register(self._shutdown)

    @property
    def running(self) -> bool:
        return not self._finished.is_set()

    def start(self, cfg: CaptureConfig) -> list[PlannedRun]:
        """Start capturing ``cfg`` in a thread; returns the planned runs."""
        if self._listen_address is not None:
            allowed, why = capture_allowed(self._listen_address())
            if not allowed:
                raise CaptureRefused(why)
        with self._mutex:
            if self.running:
                raise CaptureBusy("a capture is already running; wait for it or cancel it")
            prepared = prepare(cfg)
            lock = CaptureLock()
            lock.acquire()
            try:
                if self._on_note is not None:
                    for note in prepared.notes:
                        self._on_note(note)
            except BaseException:
                lock.release()
                raise
            self._cancel = threading.Event()
            self._finished.clear()
            self.progress, self.records, self.error, self.cancelled = None, [], None, False
            self.cancel_reason = None
            self.reports_dir = Path(cfg.reports_dir)
            thread = threading.Thread(
                target=self._run, args=(prepared, lock), name="llamaprof-capture", daemon=True
            )
            try:
                thread.start()
            except BaseException:
                lock.release()
                self._finished.set()
                raise
            return prepared.runs

    def _progress(self, progress: CaptureProgress) -> None:
        self.progress = progress
        if self._on_progress is not None:
            self._on_progress(progress)

    def _run(self, prepared: Prepared, lock: CaptureLock) -> None:
        try:
            run_capture(
                prepared,
                on_progress=self._progress,
                on_record=self.records.append,
                cancel=self._cancel,
                lock=lock,
            )
        except CaptureCancelled as exc:
            self.cancelled = True
            self.cancel_reason = exc.reason
        except CaptureFailed as exc:
            self.error = exc
        except Exception as exc:  # the thread's boundary: report it, never die silently
            log.exception("capture failed unexpectedly")
            self.error = CaptureFailed(f"unexpected error: {type(exc).__name__}: {exc}")
        finally:
            lock.release()
            self._finished.set()

    def cancel(self) -> None:
        """Ask the running capture to stop; it stops every process and keeps nothing."""
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the capture to end; True when no capture is running."""
        return self._finished.wait(timeout)

    def _shutdown(self) -> None:
        # The process is exiting (the app stopped): leave no llama-server or nsys behind.
        if self.running:
            self.cancel()
            self.wait(120)
