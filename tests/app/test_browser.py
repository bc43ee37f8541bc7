"""The real app in headless Chromium: `streamlit run`, charts drawn, layouts, links, uploads.

One server for the module (starting Streamlit and Chromium is the slow part); the link test
starts two of its own (one after the other: a restart). The folder holds the shipped
examples and, where ../shared is there, copies of four real SQLite exports (two of a 2-GPU
run, two of a one-GPU test). Screenshots go to ``test-artifacts/`` (git-ignored) for people
to look at.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from app.support import GENERATED, ROOT, SEED, copy_report
from app_server import CHROMIUM, IDLE, streamlit_app  # scripts/app_server.py

from llamaprof.capture.server import free_port

from shared_data import SHARED_NSYS

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
ERROR_SELECTORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
#: The real exports copied in (../shared/data/nsys/sqlite), by run name.
REAL = {
    "before": "GindaChen__nsys-ai__mfu_2gpu_before",
    "after": "GindaChen__nsys-ai__mfu_2gpu_after",
    "report1": "0x822a5b87__test-cuda__report1",
    "report2": "0x822a5b87__test-cuda__report2",
}

if not CHROMIUM.exists():
    pytest.skip(
        "browser tests need Debian's chromium at /usr/bin/chromium (scripts/ensure-chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def reports_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The watched folder: the two shipped examples, and four real exports where available."""
    folder = tmp_path_factory.mktemp("browser") / "reports"
    copy_report(SEED, folder)
    copy_report(GENERATED, folder)
    for name in REAL.values():
        source = SHARED_NSYS / "sqlite" / f"{name}.sqlite"
        if source.exists():
            copy_report(source, folder).chmod(0o644)
    return folder


@pytest.fixture(scope="module")
def server(reports_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a free loopback port, watching ``reports_folder``."""
    cache = tmp_path_factory.mktemp("run-cache")
    log = tmp_path_factory.mktemp("log") / "streamlit.log"
    with streamlit_app(reports_folder, cache, log) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright (no Playwright browser download)."""
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _new_page(browser, width: int = 1400, height: int = 1000):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(90_000)
    return context, page


@pytest.fixture
def page(browser, server: str):
    """A fresh page of the app, 1400 x 1000."""
    context, page = _new_page(browser)
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


def _settled(page) -> None:
    """Wait until the page's script has run (and give the bars their first paint)."""
    page.wait_for_function(f"() => {IDLE}")
    time.sleep(0.5)


def _query(page) -> dict[str, list[str]]:
    """The query of the address bar (Playwright's ``page.url`` misses history updates)."""
    return parse_qs(urlsplit(page.evaluate("document.location.href")).query)


def _visible_widths(page, selector: str) -> list[int]:
    return page.evaluate(
        f"Array.from(document.querySelectorAll('{selector}'))"
        ".filter(e => e.offsetParent !== null).map(e => e.clientWidth)"
    )


def _table_overflow(page) -> list[tuple[int, int]]:
    """(scrollWidth, clientWidth) of each visible dataframe's scroll area."""
    return [
        tuple(pair)
        for pair in page.evaluate(
            """Array.from(document.querySelectorAll('[data-testid="stDataFrame"]'))
                 .filter(e => e.offsetParent !== null)
                 .map(e => { const s = e.querySelector('.dvn-scroller') || e;
                             return [s.scrollWidth, s.clientWidth]; })"""
        )
    ]


def _real_runs(*keys: str) -> list[str]:
    if not (SHARED_NSYS / "sqlite").exists():
        pytest.skip(f"real nsys data not available: {SHARED_NSYS} (../shared is absent)")
    return [REAL[key] for key in keys]


def _link(*runs: str, **params: str) -> str:
    query = [f"run={run}" for run in runs] + [f"{k}={v}" for k, v in params.items()]
    return "/compare?" + "&".join(query)


def test_compare_page_draws_charts_without_errors(page, server: str):
    """The first visit shows the comparison of the examples, charts drawn, no error element."""
    page.goto(server + "/")
    _wait_for_charts(page, 2)
    assert page.locator(ERROR_SELECTORS).count() == 0
    assert page.get_by_text("gemma3-4b-f16-nofa-generated").first.is_visible()
    page.get_by_role("tab", name="Kernels").click()
    page.get_by_text("By family", exact=True).wait_for()
    _wait_for_charts(page, 2)
    _settled(page)
    assert page.locator(ERROR_SELECTORS).count() == 0
    # The root opened Compare at its own address, the view in its query.
    assert urlsplit(page.evaluate("document.location.href")).path == "/compare"
    assert _query(page)["tab"] == ["kernels"]
    # Each chart gets the page's width: side by side, long kernel names left no room for bars.
    widths = _visible_widths(page, ".vega-embed")
    assert len(widths) == 2 and min(widths) > 600, widths
    _screenshot(page, "compare-kernels")


def test_kernels_by_family_draws_its_charts(page, server: str):
    """By family: the stacked family bars, the Δ by family and the drill-down draw, no error."""
    page.goto(server + _link(SEED.stem, GENERATED.stem, tab="kernels"))
    _wait_for_charts(page, 2)
    page.get_by_text("By family", exact=True).click()
    page.get_by_text("Drill down into a family").wait_for()
    _wait_for_charts(page, 3)
    _settled(page)
    assert page.locator(ERROR_SELECTORS).count() == 0
    assert _query(page)["by"] == ["family"]
    _screenshot(page, "compare-families")
    page.get_by_text("Drill down into a family").scroll_into_view_if_needed()
    _screenshot(page, "compare-family-drill")


@pytest.mark.parametrize("width", [1024, 1280, 1920])
@pytest.mark.parametrize("count", [2, 3, 4])
def test_real_runs_fit_the_page(browser, server: str, width: int, count: int):
    """Two to four real runs: charts as wide as the page, drawn; at 1280 px and wider every
    table shows every value and Δ% without scrolling sideways."""
    runs = _real_runs("before", "after", "report1", "report2")[:count]
    context, page = _new_page(browser, width=width, height=1200)
    try:
        page.goto(server + _link(*runs, tab="kernels"))
        _wait_for_charts(page, 2)
        _settled(page)
        assert page.locator(ERROR_SELECTORS).count() == 0
        # As wide as the tabs holding them: the page's content width.
        main = _visible_widths(page, '[data-testid="stTabs"]')[0]
        charts = _visible_widths(page, ".vega-embed")
        assert len(charts) == 2 and all(w >= main - 20 for w in charts), (charts, main)
        frames = page.locator('[data-testid="stDataFrame"]:visible')
        frames.first.scroll_into_view_if_needed()
        if width >= 1280:
            assert all(scroll <= client for scroll, client in _table_overflow(page)), (
                _table_overflow(page)
            )
        _screenshot(page, f"compare-{count}-runs-{width}")
        frames.first.screenshot(path=str(ARTIFACTS / f"browser-table-{count}-runs-{width}.png"))
    finally:
        context.close()


@pytest.mark.parametrize(
    ("path", "title"),
    [("/compare", "Compare runs"), ("/run", "Single run"), ("/add", "Add reports"),
     ("/capture", "Capture")],
)  # fmt: skip
def test_direct_page_addresses_open_their_page(page, server: str, path: str, title: str):
    """Each page's own address opens it (no "Page not found")."""
    page.goto(server + path)
    page.get_by_role("heading", name=title).first.wait_for()
    _settled(page)
    assert page.get_by_text("Page not found").count() == 0
    assert urlsplit(page.evaluate("document.location.href")).path == path


def test_single_run_page_draws_its_chart(page, server: str):
    """The single-run page draws the API chart of the first run."""
    page.goto(server + "/run")
    _wait_for_charts(page, 1)
    assert page.locator(ERROR_SELECTORS).count() == 0
    _screenshot(page, "single-run")


def test_a_link_opens_the_same_view_after_a_restart(
    browser, reports_folder: Path, tmp_path: Path
):
    """A view's link (runs, baseline, tab, by family), opened in a new browser after the app
    was restarted, shows that view again and keeps the same link."""
    runs = _real_runs("before", "after")
    cache, log = tmp_path / "cache", tmp_path / "streamlit.log"
    port = free_port()
    with streamlit_app(reports_folder, cache, log, port=port) as server:
        context, page = _new_page(browser)
        page.goto(server + _link(*runs, tab="kernels"))
        _wait_for_charts(page, 2)
        page.get_by_text("By family", exact=True).click()
        page.get_by_text("Drill down into a family").wait_for()
        baseline = page.locator('[data-testid="stSelectbox"]').filter(has_text="Baseline")
        box = baseline.locator("input")
        box.click()
        box.fill("2gpu_after")  # the option reads the name shortened in the middle
        box.press("Enter")
        page.wait_for_function(
            "run => document.location.search.includes('baseline=' + run)", arg=runs[1]
        )
        _settled(page)
        link = page.evaluate("document.location.href")
        context.close()
    assert parse_qs(urlsplit(link).query) == {
        "folder": [str(reports_folder)],
        "run": runs,
        "baseline": [runs[1]],
        "tab": ["kernels"],
        "by": ["family"],
        "window": ["all"],
        "values": ["none"],
    }
    with streamlit_app(reports_folder, cache, log, port=port):
        context, page = _new_page(browser)
        page.goto(link)
        page.get_by_text("Drill down into a family").wait_for()
        _wait_for_charts(page, 3)
        _settled(page)
        assert page.locator(ERROR_SELECTORS).count() == 0
        selected = page.get_by_role("tab", selected=True)
        assert selected.inner_text() == "Kernels"
        # The run card of the baseline says so (its key names its class: st-key-header_...).
        card = page.locator(".st-key-header_gindachen_nsys_ai_mfu_2gpu_after")
        assert "(baseline)" in card.inner_text()
        assert page.evaluate("document.location.href") == link
        _screenshot(page, "link-after-restart")
        context.close()


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
    (reports_folder / "uploaded-run.txt").unlink()


def test_a_report_that_cannot_be_read_is_not_added(page, server: str, tmp_path: Path):
    """A truncated export: one error line saying it was not added and why; the uploader is
    empty again, nothing is listed."""
    export = SEED.read_bytes()
    upload = tmp_path / "cut.sqlite"
    upload.write_bytes(b"SQLite format 3\x00" + export[:4000])
    page.goto(server + "/add")
    page.wait_for_selector('input[type="file"]', state="attached")
    page.set_input_files('input[type="file"]', str(upload))
    error = page.locator('[data-testid="stAlertContentError"]')
    error.wait_for()
    assert error.inner_text().startswith("cut.sqlite was not added: ")
    assert page.locator('[data-testid="stFileUploaderFile"]').count() == 0
    assert page.locator('[data-testid="stAlertContentSuccess"]').count() == 0
    _screenshot(page, "upload-refused")


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
    sidebar.get_by_text("dropped-run", exact=True).wait_for(timeout=30_000)
    assert navigations == []  # no reload: the page updated itself
    (reports_folder / "later" / "dropped-run.txt").unlink()
    sidebar.get_by_text("dropped-run", exact=True).wait_for(state="detached", timeout=10_000)
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


def test_a_range_brushed_on_the_timeline_sets_the_window(page, server: str):
    """Dragging across the Timeline tab's chart (two real exports, phases detected) sets the
    window of every tab to that range from the workload start, and the link keeps it."""
    runs = _real_runs("before", "after")
    page.goto(server + _link(*runs, tab="timeline", window="all"))
    page.get_by_text("runs aligned at their workload start").wait_for()
    _wait_for_charts(page, 1)
    _settled(page)
    assert page.locator(ERROR_SELECTORS).count() == 0
    chart = page.locator(".vega-embed").first
    chart.scroll_into_view_if_needed()
    time.sleep(0.5)
    _screenshot(page, "compare-timeline")
    box = chart.bounding_box()
    assert box is not None
    # the first run's panel: a third of the way down; drag over the middle of the x range
    y = box["y"] + box["height"] * 0.3
    page.mouse.move(box["x"] + box["width"] * 0.35, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.55, y, steps=8)
    page.mouse.up()
    try:
        page.wait_for_function(
            "() => (new URLSearchParams(document.location.search).get('window') || '')"
            ".startsWith('workload')",
            timeout=20_000,
        )
    finally:
        _screenshot(page, "compare-timeline-brushed")
        print("URL", page.evaluate("document.location.href"))
    _settled(page)
    window = _query(page)["window"][0]
    assert window.startswith("workload+") and window.endswith("ms"), window
    assert page.locator(ERROR_SELECTORS).count() == 0
    _screenshot(page, "compare-timeline-brushed")
