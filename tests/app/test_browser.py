"""The real app in headless Chromium: `streamlit run`, charts drawn, upload, live folder watching.

One server for the module (starting Streamlit and Chromium is the slow part). Screenshots
go to ``test-artifacts/`` (git-ignored) for people to look at.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from app.support import ENTRYPOINT, GENERATED, ROOT, SEED, copy_report

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
ERROR_SELECTORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'

if not CHROMIUM.exists():
    pytest.skip(
        "browser tests need Debian's chromium at /usr/bin/chromium (scripts/ensure-chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"streamlit did not listen on port {port} within {timeout} s")


@pytest.fixture(scope="module")
def reports_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The watched folder: the two shipped examples."""
    folder = tmp_path_factory.mktemp("browser") / "reports"
    copy_report(SEED, folder)
    copy_report(GENERATED, folder)
    return folder


@pytest.fixture(scope="module")
def server(reports_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`streamlit run streamlit_app.py` on a free loopback port, watching ``reports_folder``."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "LLAMAPROF_NO_WATCH"}
    env["LLAMAPROF_REPORTS_DIR"] = str(reports_folder)
    env["LLAMAPROF_CACHE_DIR"] = str(tmp_path_factory.mktemp("run-cache"))
    log = (tmp_path_factory.mktemp("log") / "streamlit.log").open("w")
    command = [
        sys.executable, "-m", "streamlit", "run", str(ENTRYPOINT),
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright (no Playwright browser download)."""
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server: str):
    """A fresh page of the app, 1400 x 1000."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def _screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"browser-{name}.png"
    page.screenshot(path=str(path))
    return path


def _wait_for_charts(page, count: int) -> None:
    """Wait until ``count`` Vega charts have drawn (a canvas or svg inside each)."""
    page.wait_for_selector('[data-testid="stApp"]')
    page.wait_for_function(
        "n => document.querySelectorAll('.vega-embed canvas, .vega-embed svg').length >= n",
        arg=count,
    )


def test_compare_page_draws_charts_without_errors(page, server: str):
    """The first visit shows the comparison of the examples, charts drawn, no error element."""
    page.goto(server + "/")
    _wait_for_charts(page, 2)
    assert page.locator(ERROR_SELECTORS).count() == 0
    assert page.get_by_text("gemma3-4b-f16-nofa-generated").first.is_visible()
    page.get_by_role("tab", name="Kernels").click()
    _wait_for_charts(page, 4)
    time.sleep(0.5)  # let the bars finish their first paint for the screenshot
    assert page.locator(ERROR_SELECTORS).count() == 0
    # Each chart gets the page's width: side by side, long kernel names left no room for bars.
    widths = page.evaluate(
        "Array.from(document.querySelectorAll('.vega-embed'))"
        ".filter(e => e.offsetParent !== null).map(e => e.clientWidth)"
    )
    assert len(widths) == 2 and min(widths) > 600, widths
    _screenshot(page, "compare-kernels")


def test_kernels_by_family_draws_its_charts(page, server: str):
    """By family: the stacked family bars, the Δ by family and the drill-down draw, no error."""
    page.goto(server + "/")
    _wait_for_charts(page, 2)
    page.get_by_role("tab", name="Kernels").click()
    _wait_for_charts(page, 4)
    page.get_by_text("By family", exact=True).click()
    page.get_by_text("Drill down into a family").wait_for()
    _wait_for_charts(page, 5)
    time.sleep(0.5)  # let the bars finish their first paint for the screenshot
    assert page.locator(ERROR_SELECTORS).count() == 0
    _screenshot(page, "compare-families")
    page.get_by_text("Drill down into a family").scroll_into_view_if_needed()
    _screenshot(page, "compare-family-drill")


def test_single_run_page_draws_its_chart(page, server: str):
    """The single-run page draws the API chart of the first run."""
    page.goto(server + "/run")
    _wait_for_charts(page, 1)
    assert page.locator(ERROR_SELECTORS).count() == 0
    _screenshot(page, "single-run")


def test_upload_through_the_file_input(page, server: str, reports_folder: Path, tmp_path: Path):
    """A file given to the page's file input is saved into the folder and listed as a run."""
    upload = tmp_path / "uploaded-run.txt"
    shutil.copyfile(GENERATED, upload)
    page.goto(server + "/add")
    page.wait_for_selector('input[type="file"]', state="attached")
    page.set_input_files('input[type="file"]', str(upload))
    page.locator('[data-testid="stAlertContentSuccess"]').get_by_text(
        "Added uploaded-run.txt"
    ).wait_for()
    assert (reports_folder / "uploaded-run.txt").read_bytes() == GENERATED.read_bytes()
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("uploaded-run", exact=True).wait_for(timeout=10_000)
    assert page.locator(ERROR_SELECTORS).count() == 0
    _screenshot(page, "upload")


def test_dropped_report_appears_without_reload(page, server: str, reports_folder: Path):
    """A report copied into the folder shows in the open page's run list without a reload."""
    page.goto(server + "/")
    _wait_for_charts(page, 2)
    sidebar = page.locator('[data-testid="stSidebar"]')
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    copy_report(SEED, reports_folder / "later", "dropped-run.txt")
    # A generous wait for a loaded machine: this checks that the row appears by itself,
    # not how fast (speed is measured by scripts, never asserted in tests).
    sidebar.get_by_text("later/dropped-run", exact=True).wait_for(timeout=30_000)
    assert navigations == []  # no reload: the page updated itself
    (reports_folder / "later" / "dropped-run.txt").unlink()
    sidebar.get_by_text("later/dropped-run", exact=True).wait_for(state="detached", timeout=10_000)
    assert page.locator(ERROR_SELECTORS).count() == 0
    _screenshot(page, "dropped")


def test_enter_in_a_capture_field_starts_nothing(page, server: str):
    """On the Capture page, Enter in a text field only commits it; the Start button starts.

    The settings are a form: with Streamlit's default (``enter_to_submit=True``) this Enter
    would press Start, and the bad model would be refused at once (checked by flipping it).
    """
    page.goto(server + "/capture")
    llama_server = str(Path(sys.executable).parent / "llama-server-vulkan")
    page.get_by_label("llama-server", exact=True).fill(llama_server)
    page.get_by_label("llama-server", exact=True).press("Enter")
    model = page.get_by_label("Model (.gguf)")
    model.fill("/no/such/model.gguf")
    model.press("Enter")
    errors = page.locator('[data-testid="stAlertContentError"]')
    with pytest.raises(sync_api.TimeoutError):
        errors.first.wait_for(timeout=3_000)  # a submitted form would show its error by now
    page.get_by_role("button", name="Start capture").click()
    errors.get_by_text("model not found: /no/such/model.gguf").wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    _screenshot(page, "capture-enter")
