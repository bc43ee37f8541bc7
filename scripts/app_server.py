"""The app served for a real browser: shared by the browser tests and ``bench_page.py``.

``streamlit_app(...)`` runs ``streamlit run streamlit_app.py`` on a loopback port (its own
process, stopped on exit), watching a reports folder with its own disk cache; ``IDLE`` is the
page state Playwright waits for once a script run is over.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from llamaprof.capture.server import free_port

ROOT = Path(__file__).resolve().parents[1]
#: Debian's chromium (scripts/ensure-chromium).
CHROMIUM = Path("/usr/bin/chromium")
#: True once the page's script has run (``data-test-script-state`` back to ``notRunning``).
IDLE = (
    "document.querySelector('[data-testid=\"stApp\"]')"
    ".getAttribute('data-test-script-state') === 'notRunning'"
)


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"streamlit did not listen on port {port} within {timeout} s")


@contextlib.contextmanager
def streamlit_app(
    folder: Path,
    cache: Path,
    log: Path,
    *,
    port: int | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """``streamlit run streamlit_app.py`` on ``127.0.0.1:port`` (a free one by default),
    watching ``folder``, its disk cache in ``cache``, its output appended to ``log``, with
    ``env`` added to the environment; yields the base URL and stops the server on exit."""
    port = port or free_port()
    environ = {k: v for k, v in os.environ.items() if k != "LLAMAPROF_NO_WATCH"}
    environ |= {"LLAMAPROF_REPORTS_DIR": str(folder), "LLAMAPROF_CACHE_DIR": str(cache)}
    environ |= env or {}
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with log.open("a") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            _wait_for_port(port, proc, log)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
