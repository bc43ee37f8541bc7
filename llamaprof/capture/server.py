"""Starting llama-server (alone or under nsys), waiting for /health, and stopping it cleanly.

Clean stop, as llama-server and nsys need it (see docs/llama-server-notes.md): the workload's
HTTP sessions are closed first, then one SIGINT goes to llama-server itself, never to nsys,
and nsys is left to write its report once its target has exited. Only after a timeout does
it escalate, and ``StopOutcome`` records that it did.

Under nsys, the process llamaprof starts is the capture's *supervisor*
(``llamaprof/capture/supervisor.py``), which starts nsys and reaps everything nsys leaves:
the real nsys runs its agent (``nsys --start-agent``) detached and llama-server in a session
of its own, so only a child subreaper ever sees them again once nsys has exited, hung or
been killed. Every signal to nsys goes through the supervisor: SIGINT is passed on (nsys
stops cleanly on SIGINT and ignores SIGTERM), SIGTERM makes it stop everything below it.

Under nsys, llama-server is a descendant of the nsys process, not our child. Its PID is the
process that owns the listening socket on the capture's port, looked up in ``/proc``
(``/proc/net/tcp*`` and ``/proc/<pid>/fd``): Linux only, like nsys's server side. Where
``/proc`` is missing, the capture signals the process it started.

Every child runs in its own session (process group), so a Ctrl-C in the terminal reaches
only llamaprof, which then stops the children in the order above. If llamaprof itself is
killed, the kernel sends the child SIGTERM (Linux ``PR_SET_PDEATHSIG``): llama-server stops
at once, the supervisor stops nsys and everything below it. No llama-server is left holding
a GPU.
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
from llamaprof.orphans import die_with_parent
from llamaprof.policy import LOOPBACK
from llamaprof.versions import version_output

_POLL_S = 0.05


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


def tail_lines(
    path: Path, n: int = 20, max_bytes: int = 16384, *, whole: bool = False
) -> list[str]:
    """The last ``n`` lines of a (growing) text file; [] if it does not exist.

    ``whole``: leave out a last line its writer has not finished (no line break yet), as
    in a log read while the process writes it.
    """
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except OSError:
        return []
    if whole:
        data = data[: max(data.rfind(b"\n"), data.rfind(b"\r")) + 1]
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


def _cmdline(pid: int | str) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [w.decode("utf-8", "replace") for w in raw.split(b"\0") if w]


def first_child(pid: int) -> int | None:
    """The oldest live child of ``pid`` (the first one it started), from /proc; or None."""
    found: list[tuple[int, int]] = []
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat_fields(entry)
        if fields and int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.append((int(fields[19]), int(entry.name)))  # field 22: start time
    return min(found)[1] if found else None


#: ``nsys profile`` (2022.4 and later) starts ``nsys --start-agent
#: --session-name=profile-<target>-<nsys pid> ...``, detached from it (parent PID 1).
_AGENT_SESSION = re.compile(r"--session-name=profile-.*-(\d+)")


def nsys_agents(nsys_pids: set[int] | list[int]) -> dict[int, str]:
    """``{pid: its --session-name=... argument}`` of every live ``nsys --start-agent``
    started by one of ``nsys_pids`` (found by its session name; from /proc, {} elsewhere)."""
    wanted = set(nsys_pids)
    out = {}
    for entry in Path("/proc").glob("[0-9]*"):
        words = _cmdline(entry.name)
        if "--start-agent" not in words[1:2]:
            continue
        for word in words:
            match = _AGENT_SESSION.fullmatch(word)
            if match and int(match.group(1)) in wanted and pid_alive(int(entry.name)):
                out[int(entry.name)] = word
    return out


def processes_with_arg(arg: str) -> list[int]:
    """Live PIDs whose command line has ``arg`` as one of its words (from /proc)."""
    return [
        int(entry.name)
        for entry in Path("/proc").glob("[0-9]*")
        if arg in _cmdline(entry.name)[1:] and pid_alive(int(entry.name))
    ]


# --- the running server ----------------------------------------------------------------

#: The supervisor of a profiled run (started as a script: stdlib only, see its docstring).
SUPERVISOR = Path(__file__).with_name("supervisor.py")
#: The supervisor's --linger and --grace: what nsys leaves (its agent) gets LINGER seconds
#: after nsys exits, then SIGTERM, and SIGKILL GRACE seconds later; told to stop everything,
#: it sends nsys SIGINT, everything SIGTERM GRACE seconds later, SIGKILL GRACE after that.
SUPERVISOR_LINGER_S = 2.0
SUPERVISOR_GRACE_S = 3.0
#: nsys's report timeout when none is given: at least this, or as long as llama-server ran
#: under nsys if that was longer (nsys's work after the target exits grows with the data).
MIN_REPORT_TIMEOUT_S = 60.0


def supervised(
    command: list[str],
    linger_s: float = SUPERVISOR_LINGER_S,
    grace_s: float = SUPERVISOR_GRACE_S,
) -> list[str]:
    """``command`` (nsys) run under the capture's supervisor."""
    return [
        sys.executable,
        "-I",  # isolated: no PYTHON* variables, no user site, not the working directory
        "-S",  # stdlib only: nothing to import from site-packages
        str(SUPERVISOR),
        f"--linger={linger_s:g}",
        f"--grace={grace_s:g}",
        f"--parent={os.getpid()}",
        "--",
        *command,
    ]


def report_timeout(given_s: float | None, profiled_s: float) -> float:
    """The seconds nsys gets to write its report: ``given_s``, else the default.

    >>> report_timeout(None, 12.0), report_timeout(None, 300.5), report_timeout(5, 300.5)
    (60.0, 300.5, 5)
    """
    if given_s is not None:
        return given_s
    return max(MIN_REPORT_TIMEOUT_S, profiled_s)


def describe_status(status: int | None) -> str:
    """``exited with status 1`` or ``was killed by SIGKILL`` (a Popen returncode)."""
    if status is None:
        return "did not exit"
    if status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"was killed by signal {-status}"
    return f"exited with status {status}"


@dataclass
class SignalSent:
    """One signal the capture sent: what, to which process, and when (s since stop began)."""

    signal: str
    pid: int
    process: str | None
    role: str  # "llama-server" | "supervisor" | "nsys agent" | "process group"
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
    """How the processes ended: exit statuses (None where unknown), signals, escalation.

    ``nsys_hung``: nsys did not exit within ``report_timeout_s`` after llama-server had
    exited, and was stopped. ``survivors``: processes still running after everything was
    tried (``PID (name)``); empty when every process of the capture is gone.
    """

    server_status: int | None = None
    nsys_status: int | None = None
    escalated: bool = False
    signals: list[SignalSent] = field(default_factory=list)
    stop_s: float = 0.0
    problems: list[str] = field(default_factory=list)
    nsys_hung: bool = False
    report_timeout_s: float | None = None
    survivors: list[str] = field(default_factory=list)


_BIND_FAILURE = re.compile(r"couldn't bind|address already in use", re.IGNORECASE)
_ERROR_LINE = re.compile(r"\berror\b|failed|invalid|not found|no such", re.IGNORECASE)
#: nsys's answer to an option it does not take (nsys 2022.4: "unrecognised option '--x'",
#: its usage line, then this).
_NSYS_USAGE = re.compile(r"^Try 'nsys [a-z-]+ --help' for more information\.?$", re.MULTILINE)
_CANNOT_START = re.compile(r"^llamaprof: (cannot start .*)$", re.MULTILINE)
#: nsys's own programs (argv[0]'s name), as opposed to the target it starts.
_NSYS_OWN = {"nsys", "nsys-launcher", "nsys-tee", "QdstrmImporter"}
_NSYS_AFTER_TARGET = re.compile(r"Collecting data\.\.\.|Generating '")
_PROGRESS = re.compile(r"\[\d+/\d+\] \[[=\d% ]*\] ")  # [1/1] [====45%      ] name.nsys-rep


class ServerProcess:
    """llama-server started by the capture, directly or as ``nsys profile``'s target.

    ``root`` is the process we started (the supervisor of nsys, or llama-server itself);
    ``nsys_pid`` is nsys's PID and ``server_pid`` llama-server's, once it answers /health (see
    ``locate``); ``server_pid`` is cleared once its exit is confirmed. ``stopped`` is True once
    ``stop`` or ``kill`` has reaped everything: from then on ``kill`` does nothing, since the
    PIDs we knew may belong to other processes.
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
        self.nsys_pid: int | None = None
        self.stopped = False
        self._agents: dict[int, str] = {}  # nsys agents seen: pid -> --session-name=...
        self._stop_requested = False
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in close()
        self.started = time.monotonic()
        try:
            self.root = subprocess.Popen(
                # Stopped if llamaprof is killed (SIGKILL, the OOM killer), or llama-server
                # would keep its port and GPU memory: the supervisor sets its own death signal
                # (--parent); llama-server without a profiler gets SIGTERM (it stops at once)
                # through ``die_with_parent``, which then becomes llama-server (same PID).
                supervised(command) if profiled else die_with_parent(command, signal.SIGTERM),
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            self._log.close()
            what = "the capture supervisor" if profiled else command[0]
            raise CaptureFailed(f"cannot start {what}: {exc.strerror or exc}") from None

    # -- start-up

    def log_tail(self, n: int = 20) -> list[str]:
        """The last ``n`` lines of the log. nsys's progress bar (dozens of ``\\r``-separated
        updates of one line) counts as one line, its last update, once nsys has printed
        the next line, and a line still being written waits until it is whole: so what it
        returns only ever grows at the end, as a log does."""
        # While the process runs, its last line may be half written: left out until whole.
        running = self.root.poll() is None
        lines = tail_lines(self.log_path, n + 200, max_bytes=65536, whole=running)
        kept = [
            line
            for i, line in enumerate(lines)
            if not _PROGRESS.match(line)
            or (i + 1 < len(lines) and not _PROGRESS.match(lines[i + 1]))
        ]
        return kept[-n:]

    def _early_exit(self) -> CaptureFailed:
        tail = "\n".join(self.log_tail(30))
        status = self.root.returncode
        how = f"nsys {describe_status(status)}" if self.profiled else f"status {status}"
        cannot = _CANNOT_START.search(tail)  # the supervisor's or die_with_parent's line
        usage = _NSYS_USAGE.search(tail) if self.profiled else None
        if cannot:
            reason = cannot.group(1)
        elif usage:
            # nsys refused its own options: llama-server never ran
            before = [ln.strip() for ln in tail[: usage.start()].splitlines() if ln.strip()]
            said = next((ln for ln in reversed(before) if not ln.startswith("usage:")), "")
            reason = f"nsys refused its options ({how}): {said or usage.group(0)}"
        elif _BIND_FAILURE.search(tail) or (not tail.strip() and port_in_use(self.port)):
            # (llama-server logs from a thread of its own: exiting at once on a bind failure,
            # it sometimes prints nothing; the port, held by another process, says it all)
            reason = f"llama-server could not listen on {LOOPBACK}:{self.port} (port in use)"
        else:
            # (not the supervisor's own lines: they say what it did after, not what failed)
            lines = [
                ln.strip()
                for ln in tail.splitlines()
                if ln.strip() and not ln.startswith("llamaprof: ")
            ]
            # nsys prints its own lines after the target's (from "Collecting data..." or
            # "Generating '...qdstrm'" on, paths that may contain any word): the server's
            # error comes before them.
            ends = [i for i, ln in enumerate(lines) if _NSYS_AFTER_TARGET.match(ln)]
            server_lines = lines[: ends[0]] if ends else lines
            errors = [ln for ln in server_lines if _ERROR_LINE.search(ln)]
            last = (errors or server_lines or lines or ["no output"])[-1]
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
                    if self.profiled and not self._target_started():
                        reason = (
                            f"nsys did not start llama-server within {timeout_s:g} s "
                            "(nsys stalled while starting)"
                        )
                    else:
                        reason = (
                            f"llama-server did not answer GET /health with 200 within "
                            f"{timeout_s:g} s (last: {last})"
                        )
                    raise CaptureFailed(reason, stderr_tail="\n".join(self.log_tail(30)))
                if tick is not None:
                    tick()
                time.sleep(0.1)

    def _target_started(self) -> bool:
        """Under nsys: whether any process below it is more than nsys's own (its target)."""
        for pid in descendants(self.root.pid):
            words = _cmdline(pid)
            if words and Path(words[0]).name not in _NSYS_OWN:
                return True
        return False

    def locate(self) -> int | None:
        """Find llama-server's PID (the listener on our port among our descendants), and
        under nsys, nsys's PID and its agent."""
        below = descendants(self.root.pid)
        pid = listening_pid(self.port, [self.root.pid, *below])
        if pid is None and not self.profiled:
            pid = self.root.pid  # no /proc: the process we started is the server
        self.server_pid = pid
        if self.profiled:
            self.nsys_pid = first_child(self.root.pid)
            self._agents.update(nsys_agents([self.root.pid, *below]))
        return pid

    def nsys_exited_early(self) -> bool:
        """True when nsys ended after llama-server answered, before the capture asked it to
        (during start-up, ``wait_healthy`` says so itself)."""
        if not self.profiled or self._stop_requested or self.nsys_pid is None:
            return False
        if self.root.poll() is not None:
            return True
        return self.nsys_pid is not None and not pid_alive(self.nsys_pid)

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

    def _root_role(self) -> str:
        return "supervisor" if self.profiled else "llama-server"

    def stop(
        self,
        stop_timeout_s: float,
        report_timeout_s: float | None = None,
        tick: Callable[[], None] | None = None,
        cancel: threading.Event | None = None,
        on_server_exit: Callable[[], None] | None = None,
    ) -> StopOutcome:
        """Stop cleanly: SIGINT to llama-server, wait; escalate only after the timeouts.

        Then, under nsys, call ``on_server_exit`` and wait for nsys to write its report and
        exit: ``report_timeout_s`` seconds (None: ``report_timeout``'s default). An nsys that
        is still running then is stopped (``nsys_hung``), with everything it started.
        A set ``cancel`` stops the waiting with CaptureCancelled (the caller then ``kill``s).
        """
        self._stop_requested = True
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
            role = self._root_role() if server == self.root.pid else "llama-server"
            self._send(outcome, t0, server, signal.SIGINT, role)
            if self.profiled and server == self.root.pid:
                # The supervisor passed SIGINT to nsys, which stops llama-server and then
                # writes its report before it exits: that is the report's wait (below), and
                # the stop timeout's SIGTERM would kill nsys mid-write.
                pass
            elif not self._wait_gone(server, stop_timeout_s, tick, cancel):
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
        if self.profiled:
            # llama-server has exited: nsys writes its report now, then exits.
            timeout_s = report_timeout(report_timeout_s, time.monotonic() - self.started)
            outcome.report_timeout_s = timeout_s
            if on_server_exit is not None:
                on_server_exit()
            if not self._wait_gone(self.root.pid, timeout_s, tick, cancel):
                outcome.escalated = outcome.nsys_hung = True
                outcome.problems.append(
                    f"nsys did not exit within {timeout_s:g} s after llama-server exited; "
                    "it was stopped (nsys hung)"
                )
                self._stop_root(outcome, t0)
        elif not self._wait_gone(self.root.pid, 5, tick, cancel):
            # llama-server ran below the process we started (a wrapper), which outlived it.
            self._stop_root(outcome, t0)
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

        llama-server still gets SIGINT first, with ``grace_s`` to exit before SIGKILL; then
        the process we started is stopped (under nsys: the supervisor stops nsys and all it
        started). Does nothing once ``stop`` (or ``kill``) has completed: everything was
        reaped then, and signalling the PIDs we knew could hit unrelated processes that
        reused them (a failed export may come minutes later).
        """
        outcome = StopOutcome()
        if self.stopped:
            return outcome
        self._stop_requested = True
        t0 = time.monotonic()
        server = self.server_pid
        if server is not None and server != self.root.pid and self._alive(server):
            self._send(outcome, t0, server, signal.SIGINT, "llama-server")
            if not self._wait_gone(server, grace_s):
                outcome.escalated = True
                self._send(outcome, t0, server, signal.SIGKILL, "llama-server")
                self._wait_gone(server, 5)
        if self.root.poll() is None:
            self._stop_root(outcome, t0, grace_s)
        self.root.wait()
        self._reap(outcome, t0)
        outcome.stop_s = time.monotonic() - t0
        self.stopped = True
        self.close()
        return outcome

    def _stop_root(self, outcome: StopOutcome, t0: float, grace_s: float = 5.0) -> None:
        """Stop the process we started and everything below it; wait until it has exited.

        llama-server alone: SIGINT, then SIGKILL to its process group after ``grace_s``.
        The supervisor: SIGTERM, on which it stops nsys (SIGINT) and after its grace kills
        everything below it; SIGKILL to all of them only if it does not exit in time.
        """
        role = self._root_role()
        if self.profiled:
            self._send(outcome, t0, self.root.pid, signal.SIGTERM, role)
            grace_s = 2 * SUPERVISOR_GRACE_S + 5  # its SIGINT, SIGTERM, SIGKILL steps
        else:
            self._send(outcome, t0, self.root.pid, signal.SIGINT, role)
        if self._wait_gone(self.root.pid, grace_s):
            return
        outcome.escalated = True
        below = descendants(self.root.pid)  # before the kill: they would be orphaned after
        self._send(outcome, t0, self.root.pid, signal.SIGKILL, "process group")
        for pid in below:
            if pid_alive(pid):
                self._send(outcome, t0, pid, signal.SIGKILL, process_name(pid) or "process")
        self._wait_gone(self.root.pid, 5)

    def _forget_server_if_gone(self) -> None:
        """Clear ``server_pid`` once llama-server's exit is confirmed: its PID is free for reuse."""
        if self.server_pid is not None and not self._alive(self.server_pid):
            self.server_pid = None

    def _reap(self, outcome: StopOutcome, t0: float) -> None:
        """After the process we started has exited: nothing of ours may still run.

        A llama-server that outlived nsys, a stray child left in our process group, or an
        nsys agent (found again by its session name, never by a PID alone) is killed, and
        the record says so; what survives even SIGKILL is listed in ``outcome.survivors``.
        """
        killed: list[int] = []
        if self.server_pid is not None and self._alive(self.server_pid):
            outcome.escalated = True
            outcome.problems.append("llama-server outlived the process llamaprof started")
            self._send(outcome, t0, self.server_pid, signal.SIGKILL, "llama-server")
            killed.append(self.server_pid)
        leftovers = group_members(self.root.pid)
        if leftovers:
            outcome.escalated = True
            outcome.problems.append(
                f"processes left in the capture's process group were killed: {leftovers}"
            )
            self._send(outcome, t0, self.root.pid, signal.SIGKILL, "process group")
            killed += leftovers
        for session in sorted(set(self._agents.values())):
            for pid in processes_with_arg(session):
                outcome.escalated = True
                outcome.problems.append(f"nsys's agent (PID {pid}) outlived nsys and was killed")
                self._send(outcome, t0, pid, signal.SIGKILL, "nsys agent")
                killed.append(pid)
        for pid in killed:
            if not self._wait_gone(pid, 5):
                outcome.survivors.append(f"{pid} ({process_name(pid) or 'unknown'})")
        self._forget_server_if_gone()

    def close(self) -> None:
        if not self._log.closed:
            self._log.close()
