"""Safety of the capture machinery, without a real llama-server.

No signal after a completed stop, the capture policy checked by the library and the page's
callback, a lock file that is never followed through a symbolic link, a progress count that
never goes backwards, and a workload that fails loudly on a response that is not an object.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
import streamlit as st
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from llamaprof.capture.config import CaptureConfig, Variant, Workload
from llamaprof.capture.runner import (
    BackgroundCapture,
    CaptureLock,
    PlannedRun,
    _Reporter,
    capture_running,
    default_lock_path,
)
from llamaprof.capture.server import ServerProcess, free_port, listening_pid
from llamaprof.capture.workload import run_workload
from llamaprof.errors import CaptureFailed, CaptureRefused
from llamaprof.policy import capture_allowed

ROOT = Path(__file__).resolve().parents[2]

# --- 1. no signal once stop() has reaped everything --------------------------------------


def test_kill_after_a_completed_stop_signals_nothing(tmp_path, monkeypatch):
    """After stop(), kill() (a later export failure) sends nothing, even if the PIDs were reused."""
    port = free_port()
    script = f"import socket, time\ns = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen()\ntime.sleep(60)\n"
    proc = ServerProcess([sys.executable, "-c", script], {}, tmp_path / "log", port, profiled=False)
    deadline = time.monotonic() + 10
    while listening_pid(port, [proc.root.pid]) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert proc.locate() == proc.root.pid
    outcome = proc.stop(stop_timeout_s=10, report_timeout_s=10)
    assert [s.signal for s in outcome.signals] == ["SIGINT"]

    # Minutes later the old PIDs belong to other processes: alive, in a group of their own.
    root_pid = proc.root.pid
    monkeypatch.setattr("llamaprof.capture.server.pid_alive", lambda pid: True)
    monkeypatch.setattr("llamaprof.capture.server.group_members", lambda pgid: [root_pid + 1])
    sent = []
    monkeypatch.setattr(ServerProcess, "_send", lambda self, *args: sent.append(args[2:]))
    late = proc.kill()
    assert sent == []
    assert (late.signals, late.escalated, late.problems) == ([], False, [])
    assert (proc.stopped, proc.server_pid) == (True, None)  # its exit confirmed: PID forgotten


# --- 2. the capture policy -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "env", "expected"),
    [
        ("127.0.0.1", {}, (True, "The app listens on 127.0.0.1 only, so only this machine can start one.")),
        ("::1", {}, (True, "The app listens on ::1 only, so only this machine can start one.")),
        ("127.0.0.1", {"LLAMAPROF_ALLOW_CAPTURE": "0"}, (False, "Capturing is off on this server (LLAMAPROF_ALLOW_CAPTURE=0).")),
        ("0.0.0.0", {"LLAMAPROF_ALLOW_CAPTURE": "1"}, (True, "LLAMAPROF_ALLOW_CAPTURE=1 allows captures from any address the app listens on.")),
        ("", {}, (False, "Capturing is off: this app listens on every network interface, and a capture starts programs on this machine. Run the app with `server.address = \"127.0.0.1\"` (the default in `.streamlit/config.toml`), or set LLAMAPROF_ALLOW_CAPTURE=1 to allow it anyway.")),
        ("10.0.0.1", {"LLAMAPROF_ALLOW_CAPTURE": "yes"}, (False, "Capturing is off: this app listens on 10.0.0.1, and a capture starts programs on this machine. Run the app with `server.address = \"127.0.0.1\"` (the default in `.streamlit/config.toml`), or set LLAMAPROF_ALLOW_CAPTURE=1 to allow it anyway.")),
    ],
)  # fmt: skip
def test_capture_policy(address, env, expected):
    """Loopback allows, =1 allows anywhere, =0 forbids everywhere, anything else is off."""
    assert capture_allowed(address, env) == expected


def _config(tmp_path: Path) -> CaptureConfig:
    return CaptureConfig(
        server=sys.executable, model="/no/model.gguf", profile=False, nsys=None,
        reports_dir=tmp_path / "reports",
    )  # fmt: skip


def test_background_capture_refuses_off_loopback(tmp_path, monkeypatch):
    """The app's runner checks the policy itself: off loopback it starts nothing."""
    monkeypatch.delenv("LLAMAPROF_ALLOW_CAPTURE", raising=False)
    monkeypatch.setenv("LLAMAPROF_CAPTURE_LOCK", str(tmp_path / "capture.lock"))
    job = BackgroundCapture(listen_address=lambda: "0.0.0.0")
    with pytest.raises(
        CaptureRefused, match=r"^Capturing is off: this app listens on 0\.0\.0\.0, "
    ):
        job.start(_config(tmp_path))
    assert (job.running, capture_running(), (tmp_path / "reports").exists()) == (
        False,
        False,
        False,
    )
    # On loopback the same call goes on to check the settings.
    job = BackgroundCapture(listen_address=lambda: "127.0.0.1")
    with pytest.raises(CaptureFailed, match=r"^model not found: /no/model\.gguf$"):
        job.start(_config(tmp_path))


def test_start_callback_rechecks_the_policy(tmp_path, monkeypatch):
    """A click on a Start that was enabled when drawn starts nothing once captures are off."""
    monkeypatch.setenv("LLAMAPROF_NO_WATCH", "1")
    monkeypatch.setenv("LLAMAPROF_CACHE_DIR", str(tmp_path / "run-cache"))
    monkeypatch.delenv("LLAMAPROF_ALLOW_CAPTURE", raising=False)
    started = []
    monkeypatch.setattr(BackgroundCapture, "start", lambda self, cfg: started.append(cfg))
    before = st_config.get_option("server.address")
    st.cache_resource.clear()
    try:
        st_config.set_option("server.address", "127.0.0.1")
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
        at.session_state["reports_dir"] = str(tmp_path / "reports")
        at.run()
        at.switch_page("app_pages/capture.py").run()
        assert at.button(key="capture_start").disabled is False
        monkeypatch.setenv("LLAMAPROF_ALLOW_CAPTURE", "0")  # switched off after drawing
        at.button(key="capture_start").click().run()
    finally:
        st_config.set_option("server.address", before)
        st.cache_resource.clear()
    assert not at.exception, [e.message for e in at.exception]
    assert started == []
    assert [e.value for e in at.error] == [
        "Capturing is off on this server (LLAMAPROF_ALLOW_CAPTURE=0)."
    ]


# --- 3. the lock file ------------------------------------------------------------------------


def test_lock_refuses_a_symbolic_link(tmp_path):
    """A link planted at the lock's name is not followed: its target stays untouched."""
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    link = tmp_path / "capture.lock"
    link.symlink_to(target)
    with pytest.raises(CaptureFailed) as info:
        CaptureLock(link).acquire()
    assert str(info.value) == f"the capture lock {link} is a symbolic link; not following it"
    assert target.read_text() == "keep me"


def test_default_lock_is_private_to_the_user(tmp_path, monkeypatch):
    """$XDG_RUNTIME_DIR first, else ~/.cache/llamaprof; never /tmp; the file is 0600."""
    monkeypatch.delenv("LLAMAPROF_CAPTURE_LOCK", raising=False)
    runtime = tmp_path / "run"
    runtime.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert default_lock_path() == runtime / "llamaprof-capture.lock"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = tmp_path / "home" / ".cache" / "llamaprof" / "capture.lock"
    assert default_lock_path() == path
    lock = CaptureLock()
    lock.acquire()
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert path.read_text() == f"pid {os.getpid()}"
        assert capture_running() is True
    finally:
        lock.release()
    assert capture_running() is False
    monkeypatch.setenv("LLAMAPROF_CAPTURE_LOCK", str(tmp_path / "mine.lock"))
    assert default_lock_path() == tmp_path / "mine.lock"


# --- 4. progress from many client threads ----------------------------------------------------


def _reporter(seen: list) -> _Reporter:
    reporter = _Reporter(lambda p: seen.append(p.requests_done), runs=1)
    run = PlannedRun(name="r", label="-fa on", variant=Variant(), args=(), env={},
                     repeat_index=1, repeat_of=1, group="g")  # fmt: skip
    reporter.begin(0, run, requests_total=400)
    return reporter


def test_request_count_never_goes_backwards():
    """A client that counted 1 reporting after the one that counted 2 does not lower it."""
    seen: list[int] = []
    reporter = _reporter(seen)
    for done in (2, 1, 3):
        reporter.requests(done)
    assert seen == [2, 2, 3]


def test_request_count_from_many_threads_is_monotonic():
    """Eight clients reporting at once: the snapshots' counts only grow, ending at 400."""
    seen: list[int] = []
    reporter = _reporter(seen)
    counter = iter(range(1, 401))
    counter_lock = threading.Lock()

    def client():
        while True:
            with counter_lock:
                done = next(counter, None)
            if done is None:
                return
            reporter.requests(done)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 400 and seen[-1] == 400
    assert seen == sorted(seen)


# --- 5. a response that is not a JSON object -------------------------------------------------


@pytest.fixture
def odd_server():
    """A loopback HTTP server answering POST /completion with 200 and an event stream of one
    event, the JSON value it is given."""
    body = {"value": b"[]"}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(body["value"])))
            self.end_headers()
            self.wfile.write(body["value"])

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # the workload aborts the other clients' connections on the first failure

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def serve(value) -> str:
        body["value"] = b"data: " + json.dumps(value).encode() + b"\n\n"
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize(("value", "kind"), [([1, 2], "array"), ("oops", "string"), (7, "number")])
def test_a_200_that_is_not_an_object_fails_the_workload(odd_server, value, kind):
    """A streamed event whose JSON is an array, a string or a number fails the workload,
    saying so."""
    url = odd_server(value)
    with pytest.raises(CaptureFailed) as info:
        run_workload(url, Workload(requests=3, concurrency=1, prompt="hi", n_predict=1))
    assert str(info.value) == (
        f"request 1 of 3 failed: a streamed event is a JSON {kind}, not an object"
    )


# --- 6. the log as progress and errors show it --------------------------------------------


def test_log_tail_only_grows_and_shows_nsys_progress_bar_once(tmp_path):
    """nsys redraws its progress bar with carriage returns, and a log is read while it is
    written: the tail shows the bar's last state once nsys has moved on, and a line once it
    is whole, never what it will take back (what was shown stays, in order)."""
    log = tmp_path / "log"
    log.write_bytes(
        b"listening on http://127.0.0.1:8080\nGenerating '/t/nsys-report-1a2b.qdstrm'\n\n"
        b"[1/1] [0%                 ] r.nsys-rep\r[1/1] [=====45%           ] r.nsys-rep"
    )
    status = {"code": None}
    view = SimpleNamespace(log_path=log, root=SimpleNamespace(poll=lambda: status["code"]))

    def write(data: bytes) -> list[str]:
        with open(log, "ab") as f:
            f.write(data)
        return ServerProcess.log_tail(view, 10)

    before = write(b"")
    assert before == [
        "listening on http://127.0.0.1:8080",
        "Generating '/t/nsys-report-1a2b.qdstrm'",
        "",
    ]
    assert write(b"\r[1/1] [=======100%=======] r.nsys-rep\nGener") == before  # half a line
    after = [*before, "[1/1] [=======100%=======] r.nsys-rep", "Generated:", "    /t/r.nsys-rep"]
    assert write(b"ated:\n    /t/r.nsys-rep\n") == after
    assert write(b"llamaprof: a last line, unfinished") == after
    status["code"] = 0  # the process has exited: its last line is as whole as it gets
    assert ServerProcess.log_tail(view, 3) == [
        "Generated:",
        "    /t/r.nsys-rep",
        "llamaprof: a last line, unfinished",
    ]


def test_publishing_never_replaces_a_file_that_appeared(tmp_path: Path) -> None:
    """A run's files move into the reports folder only under free names: when one name was
    taken meanwhile, the capture fails in one line, the file there keeps its bytes, and what
    had moved already goes back to the run's temporary folder."""
    from llamaprof.capture.runner import _publish
    from llamaprof.errors import CaptureFailed

    reports, tmp = tmp_path / "reports", tmp_path / "reports" / ".tmp-run"
    tmp.mkdir(parents=True)
    for name in ("r.nsys-rep", "r.sqlite", "r.llamaprof.json"):
        (tmp / name).write_text(f"new {name}")
    (reports / "r.sqlite").write_text("the user's own file")
    with pytest.raises(CaptureFailed) as caught:
        _publish(tmp, reports, ["r.nsys-rep", "r.sqlite", None, "r.llamaprof.json"])
    assert caught.value.reason == (
        f"{reports / 'r.sqlite'} appeared during the capture; not overwriting it"
    )
    assert (reports / "r.sqlite").read_text() == "the user's own file"
    assert sorted(p.name for p in reports.iterdir()) == [".tmp-run", "r.sqlite"]
    assert sorted(p.name for p in tmp.iterdir()) == ["r.llamaprof.json", "r.nsys-rep", "r.sqlite"]
    (reports / "r.sqlite").unlink()
    _publish(tmp, reports, ["r.nsys-rep", "r.sqlite", None, "r.llamaprof.json"])
    assert sorted(p.name for p in reports.iterdir()) == [
        "r.llamaprof.json",
        "r.nsys-rep",
        "r.sqlite",
    ]
