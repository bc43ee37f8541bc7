"""The parent of ``nsys profile`` in a capture: it reaps every process nsys leaves behind.

Run as a script (stdlib only, ``python -I -S supervisor.py [options] -- NSYS ARGS...``) by
``ServerProcess``; llamaprof never imports it for anything else.

Why a process of its own: the real nsys starts ``nsys --start-agent`` detached (its parent
becomes PID 1) and llama-server in a session of its own, so neither a process group nor the
process tree below nsys holds them. When nsys hangs or is killed, the agent keeps spinning a
core and llama-server keeps its port (and its GPU memory), forever. This process declares
itself a *child subreaper* (Linux ``prctl(PR_SET_CHILD_SUBREAPER)``): every process below it
that is orphaned is reparented to it instead of PID 1. It can then wait for them, kill them
and reap them with ``waitpid(-1)``, which is safe here and would not be in llamaprof's own
process (the app's long-lived server, where it would steal the exit status of other
``subprocess`` children and where orphans would pile up as zombies).

What it does:

- starts the command (nsys) and forwards SIGINT to it: SIGINT is what stops nsys cleanly
  (nsys ignores SIGTERM while it profiles, measured with nsys 2022.4);
- once nsys has exited, gives what it left (the agent, normally gone within a second) ``linger``
  seconds, then sends them SIGTERM and, ``grace`` seconds later, SIGKILL;
- on SIGTERM (from llamaprof: "nsys hung" or "cancel"; from the kernel when llamaprof dies,
  ``PR_SET_PDEATHSIG``, which it sets itself given ``--parent``) it tears everything down:
  SIGINT to nsys, ``grace`` seconds later SIGTERM to every process below it (the agent
  cleans up on SIGTERM), ``grace`` seconds after that SIGKILL;
- cleans up the shared memory nsys leaves in ``/dev/shm`` when it or its agent is killed:
  the files named after a process of its tree (``sem.nsys_sem_<pid>``,
  ``quadd-agent-instance-<pid>``, the agent's ``--shm-name``), and, when nothing of nsys runs
  any more on the machine, ``NSys-<version>``: nsys 2022.4 keeps its session registry there
  while a session runs and removes it at the end; left by a killed nsys, it makes every later
  ``nsys profile`` on the machine fail ("Agent launcher failed.", measured here);
- exits only when no process below it is left, with nsys's exit status (or dying by nsys's
  signal), so its parent sees what nsys did.

Every signal it sends is one line on stderr (the capture's log), starting ``llamaprof:``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time

_POLL_S = 0.05
#: The shared-memory file an nsys agent keeps while it runs (nsys 2022.4); gone only if the
#: agent exits by itself or on SIGTERM.
_SHM = "/dev/shm"
#: Named after a process of nsys's tree: the target's semaphore, an agent's instance file.
_PID_SHM = ("sem.nsys_sem_{pid}", "quadd-agent-instance-{pid}")
#: Programs of nsys (argv[0]'s name); while one runs, its session registry is in use.
_NSYS_PROGRAMS = ("nsys", "nsys-launcher", "nsys-tee", "QdstrmImporter")
_SCAN_S = 1.0  # how often the tree is looked at, to know what to clean up after it
_PR_SET_NAME = 15
_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_PDEATHSIG = 1
#: Signals whose default action ends a process without a core dump: nsys dying by one of
#: these is passed on by dying of the same signal; any other becomes exit status 128+N.
_DEFAULTS = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE", "SIGXFSZ")
    if hasattr(signal, name)
)
_PASS_ON = {
    signal.SIGHUP,
    signal.SIGINT,
    signal.SIGKILL,
    signal.SIGPIPE,
    signal.SIGALRM,
    signal.SIGTERM,
    signal.SIGUSR1,
    signal.SIGUSR2,
}


def _prctl(option: int, arg) -> bool:
    """Call prctl(2); False where it is unavailable or fails (not Linux)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, arg, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _log(message: str) -> None:
    with contextlib.suppress(OSError):
        sys.stderr.write(f"llamaprof: {message}\n")
        sys.stderr.flush()


def _describe(pid: int) -> str:
    words = _cmdline(pid)
    if not words:
        return f"PID {pid}"
    # ``nsys --start-agent --session-name=...``: the program and its first argument say enough.
    name = os.path.basename(words[0])
    first = f" {words[1]}" if len(words) > 1 and words[1].startswith("--") else ""
    return f"{name}{first} (PID {pid})"


def _cmdline(pid: int | str) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [w.decode("utf-8", "replace") for w in f.read().split(b"\0") if w]
    except OSError:
        return []


def _nsys_running() -> bool:
    """True while any process of nsys runs on this machine (any user's, any version)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True  # cannot tell: assume so, and leave nsys's files alone
    for entry in entries:
        words = _cmdline(entry) if entry.isdigit() else []
        if words and os.path.basename(words[0]) in _NSYS_PROGRAMS:
            return True
    return False


def _descendants(root: int) -> list[int]:
    """Every live process below ``root`` (read from /proc), deepest last."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] in (b"Z", b"X"):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    out: list[int] = []
    queue = [root]
    while queue:
        for child in children.get(queue.pop(0), []):
            out.append(child)
            queue.append(child)
    return out


class Supervisor:
    """Runs ``command`` and everything it leaves behind to the end; see the module docstring.

    The signal handlers only set flags: the loop acts on them, so a signal that arrives
    before the child has started is not lost.
    """

    def __init__(self, command: list[str], linger_s: float, grace_s: float) -> None:
        self.command = command
        self.linger_s = linger_s
        self.grace_s = grace_s
        self.child: int | None = None
        self.child_status: int | None = None
        self.child_exit_at: float | None = None
        self.sigints = 0  # SIGINTs received and not yet passed on to the child
        self.teardown_at: float | None = None  # when SIGTERM asked to stop everything
        self.signalled: dict[int, set[signal.Signals]] = {}
        self.seen: set[int] = set()  # every process of the tree seen (for their /dev/shm files)
        self.agent_shm: set[str] = set()  # the agents' --shm-name=... files
        self.killed = False  # a SIGKILL was sent: nsys could not clean up after itself
        self.scanned_at = 0.0

    def on_sigint(self, _signum, _frame) -> None:
        self.sigints += 1

    def on_sigterm(self, _signum, _frame) -> None:
        if self.teardown_at is None:
            self.teardown_at = time.monotonic()
            self.sigints += 1

    def reap(self) -> bool:
        """Reap every child that has exited; False once no child is left at all."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid == self.child:
                self.child_status = status
                self.child_exit_at = time.monotonic()

    def scan(self) -> list[int]:
        """The live processes below this one, remembered with their agents' shm names."""
        below = _descendants(os.getpid())
        for pid in below:
            if pid not in self.seen:
                self.seen.add(pid)
                for word in _cmdline(pid):
                    if word.startswith("--shm-name="):
                        self.agent_shm.add(os.path.basename(word.split("=", 1)[1]))
        return below

    def send(self, pid: int, sig: signal.Signals, why: str) -> None:
        """Send ``sig`` to ``pid`` once, saying so in the log."""
        sent = self.signalled.setdefault(pid, set())
        if sig in sent:
            return
        sent.add(sig)
        self.killed |= sig == signal.SIGKILL
        _log(f"{why}: {sig.name} to {_describe(pid)}")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    def send_rest(self, sig: signal.Signals, why: str) -> None:
        for pid in self.scan():
            self.send(pid, sig, why)

    def clean_shm(self) -> None:
        """Remove what nsys left in /dev/shm (see the module docstring); one line if any."""
        names = {n.format(pid=pid) for pid in self.seen for n in _PID_SHM} | self.agent_shm
        died = self.child_status is not None and os.WIFSIGNALED(self.child_status)
        if (self.killed or died) and not _nsys_running():
            with contextlib.suppress(OSError):
                names |= {n for n in os.listdir(_SHM) if n.startswith("NSys-")}
        removed = []
        for name in sorted(names):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(_SHM, name))
                removed.append(name)
        if removed:
            _log(f"removed what nsys left in {_SHM}: {', '.join(removed)}")

    def step(self, now: float) -> None:
        child = self.child if self.child_status is None else None
        if self.sigints and child is not None:
            self.sigints = 0
            if self.teardown_at is not None:
                self.send(child, signal.SIGINT, "stopping nsys")
            else:  # passed on as often as it came: a second SIGINT means "now" to nsys
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGINT)
        torn = now - self.teardown_at if self.teardown_at is not None else None
        if torn is not None and torn >= 2 * self.grace_s:
            self.send_rest(signal.SIGKILL, "still running after SIGTERM")
        elif torn is not None and torn >= self.grace_s:
            self.send_rest(signal.SIGTERM, f"still running {self.grace_s:g} s after SIGINT")
        elif self.child_exit_at is not None:
            after = now - self.child_exit_at
            if after >= self.linger_s + self.grace_s:
                self.send_rest(signal.SIGKILL, "still running after nsys exited")
            elif after >= self.linger_s:
                self.send_rest(signal.SIGTERM, "still running after nsys exited")

    def run(self) -> int:
        """Start the command and supervise until nothing below this process is left."""
        try:
            self.child = os.posix_spawn(
                self.command[0],
                self.command,
                os.environ,
                # Python ignores SIGPIPE (and the handlers below are ours): nsys gets the
                # defaults, as subprocess gives its children.
                setsigdef=_DEFAULTS,
            )
        except OSError as exc:
            _log(f"cannot start {self.command[0]}: {exc.strerror or exc}")
            return 127
        while self.reap():
            now = time.monotonic()
            if now - self.scanned_at >= _SCAN_S:
                self.scanned_at = now
                self.scan()
            self.step(now)
            time.sleep(_POLL_S)
        return 0


def _exit_like(status: int | None, fallback: int) -> None:
    """End this process the way nsys ended: its exit status, or its signal."""
    if status is None:
        os._exit(fallback)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig in _PASS_ON:
            if sig != signal.SIGKILL:  # SIGKILL's action cannot be set (nor caught)
                signal.signal(sig, signal.SIG_DFL)
            sys.stderr.flush()
            os.kill(os.getpid(), sig)
            time.sleep(1)  # the signal ends us; this line is only reached if it did not
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="supervisor.py")
    parser.add_argument("--linger", type=float, default=2.0)
    parser.add_argument("--grace", type=float, default=3.0)
    parser.add_argument("--parent", type=int, help="stop everything when this process dies")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    _prctl(_PR_SET_NAME, b"llamaprof")
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    sup = Supervisor(command, args.linger, args.grace)
    signal.signal(signal.SIGINT, sup.on_sigint)
    signal.signal(signal.SIGTERM, sup.on_sigterm)
    signal.signal(signal.SIGHUP, sup.on_sigterm)
    if args.parent is not None:
        # llamaprof killed (SIGKILL, the OOM killer) means SIGTERM here: tear down. Set in
        # this process rather than by a preexec_fn in llamaprof's, which runs threads.
        _prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != args.parent:  # it died before the call: start nothing
            _log("llamaprof exited before the capture started; nothing started")
            sys.exit(1)
    fallback = sup.run()
    sup.clean_shm()
    _exit_like(sup.child_status, fallback)


if __name__ == "__main__":
    main(sys.argv[1:])
