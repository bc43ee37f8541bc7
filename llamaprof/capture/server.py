"""Starting llama-server (alone or under nsys), waiting for /health, and stopping it cleanly.

Clean stop, as llama-server and nsys need it (see docs/llama-server-notes.md): the workload's
HTTP sessions are closed first, then one SIGINT goes to llama-server itself, never to nsys,
and nsys is left to write its report once its target has exited. Only after a timeout does
it escalate (SIGTERM, then SIGKILL), and ``StopOutcome`` records that it did.

Under nsys, llama-server is a descendant of the nsys process, not our child. Its PID is the
process that owns the listening socket on the capture's port, looked up in ``/proc``
(``/proc/net/tcp*`` and ``/proc/<pid>/fd``): Linux only, like nsys's server side. Where
``/proc`` is missing, the capture signals the process it started.

Every child runs in its own session (process group), so a Ctrl-C in the terminal reaches
only llamaprof, which then stops the children in the order above. If llamaprof itself is
killed, the kernel sends the child SIGTERM (Linux ``PR_SET_PDEATHSIG``): no llama-server
is left holding a GPU.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from llamaprof.errors import CaptureCancelled, CaptureFailed
from llamaprof.policy import LOOPBACK
from llamaprof.versions import version_output

_POLL_S = 0.05


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PR_SET_PDEATHSIG = 1
_prctl = _load_prctl()  # resolved now: the child between fork and exec only calls it


def _stop_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGTERM when llamaprof dies (Linux).

    The child runs in its own session, so nothing else stops it when llamaprof is killed
    (SIGKILL, the OOM killer): without this, llama-server would keep its GPU memory on a
    shared machine. SIGTERM stops llama-server at once and makes nsys end its session.
    The signal comes when the *thread* that started the child ends; the capture thread
    lives until its server has stopped.
    """
    if _prctl is None:
        return None
    parent = os.getpid()
    prctl = _prctl

    def set_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != parent:  # llamaprof died before the call: act on it now
            os.kill(os.getpid(), signal.SIGTERM)

    return set_death_signal


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    """True when 127.0.0.1:``port`` cannot be bound (something holds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return True
    return False


def server_version(server: str, env: dict[str, str] | None = None) -> str | None:
    """``0.1.0-dev (build 1, commit 7e4c0a9)`` from ``llama-server --version``, or None."""
    for line in version_output(server, env).splitlines():
        if line.startswith("version:"):
            return line.split(":", 1)[1].strip()
    return None


def tail_lines(path: Path, n: int = 20, max_bytes: int = 16384) -> list[str]:
    """The last ``n`` lines of a (growing) text file; [] if it does not exist."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    if size > max_bytes and lines:
        lines = lines[1:]  # the first line is probably cut
    return lines[-n:]


# --- /proc helpers (Linux) -------------------------------------------------------------


def _proc_state(pid: int) -> str | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()[0]


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, exited but not reaped, counts as gone)."""
    state = _proc_state(pid)
    if state is not None:
        return state not in ("Z", "X")
    if Path("/proc/self").exists():
        return False  # /proc works and has no such process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _stat_fields(entry: Path) -> list[str] | None:
    try:
        return (entry / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def descendants(pid: int) -> list[int]:
    """PIDs of every process below ``pid``, breadth first (from /proc; [] elsewhere)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat_fields(entry)
        if fields:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    out: list[int] = []
    queue = [pid]
    while queue:
        for child in children.get(queue.pop(0), []):
            out.append(child)
            queue.append(child)
    return out


def group_members(pgid: int) -> list[int]:
    """Live PIDs whose process group is ``pgid`` (from /proc; [] elsewhere)."""
    out = []
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat_fields(entry)
        if fields and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            out.append(int(entry.name))
    return out


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def listening_pid(port: int, candidates: list[int]) -> int | None:
    """Which of ``candidates`` holds the socket listening on ``port`` (Linux), or None."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    wanted = {f"socket:[{i}]" for i in inodes}
    for pid in candidates:
        try:
            fds = os.scandir(f"/proc/{pid}/fd")
        except OSError:
            continue
        with fds:
            for fd in fds:
                with contextlib.suppress(OSError):
                    if os.readlink(fd.path) in wanted:
                        return pid
    return None


def process_name(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


# --- the running server ----------------------------------------------------------------


@dataclass
class SignalSent:
    """One signal the capture sent: what, to which process, and when (s since stop began)."""

    signal: str
    pid: int
    process: str | None
    role: str  # "llama-server" | "nsys" | "process group"
    at_s: float

    def to_dict(self) -> dict:
        return {
            "signal": self.signal,
            "pid": self.pid,
            "process": self.process,
            "to": self.role,
            "at_s": round(self.at_s, 3),
        }


@dataclass
class StopOutcome:
    """How the processes ended: exit statuses (None where unknown), signals, escalation."""

    server_status: int | None = None
    nsys_status: int | None = None
    escalated: bool = False
    signals: list[SignalSent] = field(default_factory=list)
    stop_s: float = 0.0
    problems: list[str] = field(default_factory=list)


_BIND_FAILURE = re.compile(r"couldn't bind|address already in use", re.IGNORECASE)
_ERROR_LINE = re.compile(r"\berror\b|failed|invalid|not found|no such", re.IGNORECASE)


class ServerProcess:
    """llama-server started by the capture, directly or as ``nsys profile``'s target.

    ``root`` is the process we started (nsys, or llama-server itself); ``server_pid`` is
    llama-server's PID once it answers /health (see ``locate``), cleared once its exit is
    confirmed. ``stopped`` is True once ``stop`` or ``kill`` has reaped everything: from
    then on ``kill`` does nothing, since the PIDs we knew may belong to other processes.
    """

    def __init__(
        self,
        command: list[str],
        env: dict[str, str],
        log_path: Path,
        port: int,
        profiled: bool,
    ) -> None:
        self.port = port
        self.profiled = profiled
        self.log_path = log_path
        self.base_url = f"http://{LOOPBACK}:{port}"
        self.server_pid: int | None = None
        self.stopped = False
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in close()
        try:
            self.root = subprocess.Popen(
                command,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                preexec_fn=_stop_with_parent(),
            )
        except OSError as exc:
            self._log.close()
            raise CaptureFailed(f"cannot start {command[0]}: {exc.strerror or exc}") from None

    # -- start-up

    def log_tail(self, n: int = 20) -> list[str]:
        return tail_lines(self.log_path, n)

    def _early_exit(self) -> CaptureFailed:
        tail = "\n".join(self.log_tail(30))
        status = self.root.returncode
        how = f"nsys exited with status {status}" if self.profiled else f"status {status}"
        if _BIND_FAILURE.search(tail):
            reason = f"llama-server could not listen on {LOOPBACK}:{self.port} (port in use)"
        else:
            lines = [ln.strip() for ln in tail.splitlines() if ln.strip()]
            # nsys prints its own lines after the target's: prefer the server's error.
            errors = [ln for ln in lines if _ERROR_LINE.search(ln)]
            last = (errors or lines or ["no output"])[-1]
            reason = f"llama-server exited during start-up ({how}): {last}"
        return CaptureFailed(reason, returncode=status, stderr_tail=tail)

    def wait_healthy(
        self,
        timeout_s: float,
        cancel: threading.Event | None = None,
        tick: Callable[[], None] | None = None,
    ) -> float:
        """Poll ``GET /health`` until it answers 200; returns the seconds it took.

        Raises CaptureFailed (with the log tail) when the process exits first or the
        timeout passes, CaptureCancelled when ``cancel`` is set.
        """
        start = time.monotonic()
        last: str = "no answer"
        with requests.Session() as session:
            session.trust_env = False  # never a proxy: the server is on loopback
            while True:
                if cancel is not None and cancel.is_set():
                    raise CaptureCancelled()
                if self.root.poll() is not None:
                    raise self._early_exit()
                try:
                    r = session.get(self.base_url + "/health", timeout=2)
                    if r.status_code == 200:
                        return time.monotonic() - start
                    last = f"HTTP {r.status_code}"
                except requests.RequestException:
                    last = "connection refused"
                elapsed = time.monotonic() - start
                if elapsed > timeout_s:
                    raise CaptureFailed(
                        f"llama-server did not answer GET /health with 200 within "
                        f"{timeout_s:g} s (last: {last})",
                        stderr_tail="\n".join(self.log_tail(30)),
                    )
                if tick is not None:
                    tick()
                time.sleep(0.1)

    def locate(self) -> int | None:
        """Find llama-server's PID (the listener on our port among our descendants)."""
        candidates = [self.root.pid, *descendants(self.root.pid)]
        pid = listening_pid(self.port, candidates)
        if pid is None and not self.profiled:
            pid = self.root.pid  # no /proc: the process we started is the server
        self.server_pid = pid
        return pid

    # -- stopping

    def _send(
        self, outcome: StopOutcome, t0: float, pid: int, sig: signal.Signals, role: str
    ) -> None:
        name = process_name(pid)
        with contextlib.suppress(ProcessLookupError):
            if role == "process group":
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
            outcome.signals.append(SignalSent(sig.name, pid, name, role, time.monotonic() - t0))

    def _alive(self, pid: int) -> bool:
        if pid == self.root.pid:
            return self.root.poll() is None
        return pid_alive(pid)

    def _wait_gone(
        self,
        pid: int,
        timeout_s: float,
        tick: Callable[[], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> bool:
        deadline = time.monotonic() + timeout_s
        while self._alive(pid):
            if cancel is not None and cancel.is_set():
                raise CaptureCancelled()
            if time.monotonic() > deadline:
                return False
            if tick is not None:
                tick()
            time.sleep(_POLL_S)
        return True

    def _server_role(self, pid: int) -> str:
        return "nsys" if self.profiled and pid == self.root.pid else "llama-server"

    def stop(
        self,
        stop_timeout_s: float,
        report_timeout_s: float,
        tick: Callable[[], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> StopOutcome:
        """Stop cleanly: SIGINT to llama-server, wait; escalate only after the timeouts.

        Then wait for the process we started (nsys writes its report now) and reap it.
        A set ``cancel`` stops the waiting with CaptureCancelled (the caller then ``kill``s).
        """
        outcome = StopOutcome()
        t0 = time.monotonic()
        server = self.server_pid
        if server is not None and not self._alive(server):
            outcome.problems.append("llama-server had exited before it was asked to stop")
            server = None
        elif server is None and self.root.poll() is None:
            outcome.problems.append(
                "llama-server's PID was not found; SIGINT went to the process llamaprof started"
            )
            server = self.root.pid
        if server is not None:
            role = self._server_role(server)
            self._send(outcome, t0, server, signal.SIGINT, role)
            if not self._wait_gone(server, stop_timeout_s, tick, cancel):
                outcome.escalated = True
                outcome.problems.append(
                    f"{role} did not exit within {stop_timeout_s:g} s of SIGINT; sent SIGTERM"
                )
                self._send(outcome, t0, server, signal.SIGTERM, role)
                if not self._wait_gone(server, 10, tick, cancel):
                    outcome.problems.append(f"{role} ignored SIGTERM; sent SIGKILL")
                    self._send(outcome, t0, server, signal.SIGKILL, role)
                    self._wait_gone(server, 5)
            self._forget_server_if_gone()
        # The process we started is llama-server itself (gone by now) or nsys, which writes
        # its report once its target has exited: give it time, then escalate.
        if not self._wait_gone(self.root.pid, report_timeout_s, tick, cancel):
            outcome.escalated = True
            outcome.problems.append(
                f"nsys did not finish within {report_timeout_s:g} s after llama-server "
                "exited; sent SIGINT"
            )
            self._send(outcome, t0, self.root.pid, signal.SIGINT, "nsys")
            if not self._wait_gone(self.root.pid, 30):
                self._send(outcome, t0, self.root.pid, signal.SIGKILL, "process group")
        self.root.wait()
        self._reap(outcome, t0)
        if self.profiled:
            outcome.nsys_status = self.root.returncode
        else:
            outcome.server_status = self.root.returncode
        outcome.stop_s = time.monotonic() - t0
        self.stopped = True
        self.close()
        return outcome

    def kill(self, grace_s: float = 5.0) -> StopOutcome:
        """Stop everything now, after a failure or a cancel; nothing is kept, so no long waits.

        llama-server still gets SIGINT first, then nsys (if it has not exited by itself), each
        with ``grace_s`` to exit before SIGKILL. Does nothing once ``stop`` (or ``kill``) has
        completed: everything was reaped then, and signalling the PIDs we knew could hit
        unrelated processes that reused them (a failed export may come minutes later).
        """
        outcome = StopOutcome()
        if self.stopped:
            return outcome
        t0 = time.monotonic()
        server = self.server_pid
        if server is not None and server != self.root.pid and self._alive(server):
            self._send(outcome, t0, server, signal.SIGINT, "llama-server")
            if not self._wait_gone(server, grace_s):
                outcome.escalated = True
                self._send(outcome, t0, server, signal.SIGKILL, "llama-server")
                self._wait_gone(server, 5)
        if self.root.poll() is None:
            self._send(
                outcome,
                t0,
                self.root.pid,
                signal.SIGINT,
                "nsys" if self.profiled else "llama-server",
            )
            if not self._wait_gone(self.root.pid, grace_s):
                outcome.escalated = True
                self._send(outcome, t0, self.root.pid, signal.SIGKILL, "process group")
        self.root.wait()
        self._reap(outcome, t0)
        outcome.stop_s = time.monotonic() - t0
        self.stopped = True
        self.close()
        return outcome

    def _forget_server_if_gone(self) -> None:
        """Clear ``server_pid`` once llama-server's exit is confirmed: its PID is free for reuse."""
        if self.server_pid is not None and not self._alive(self.server_pid):
            self.server_pid = None

    def _reap(self, outcome: StopOutcome, t0: float) -> None:
        """After the process we started has exited: nothing of ours may still run.

        A llama-server that outlived nsys, or a stray child left in our process group,
        is killed, and the record says so.
        """
        if self.server_pid is not None and self._alive(self.server_pid):
            outcome.escalated = True
            outcome.problems.append("llama-server outlived the process llamaprof started")
            self._send(outcome, t0, self.server_pid, signal.SIGKILL, "llama-server")
            self._wait_gone(self.server_pid, 5)
        self._forget_server_if_gone()
        leftovers = group_members(self.root.pid)
        if leftovers:
            outcome.escalated = True
            outcome.problems.append(
                f"processes left in the capture's process group were killed: {leftovers}"
            )
            self._send(outcome, t0, self.root.pid, signal.SIGKILL, "process group")
            for pid in leftovers:
                self._wait_gone(pid, 5)

    def close(self) -> None:
        if not self._log.closed:
            self._log.close()
