#!/usr/bin/env python3
"""Benchmark the compare page in a real headless browser: opening a link, then each click.

Runs ``streamlit run streamlit_app.py`` on a folder of ``--runs`` (8) seed-scale exports
(``scripts/synth.py``: 1,055,205 kernels and 1,076,916 CUDA API calls each, ~127 MiB) and
drives Debian's Chromium through Playwright, as ``tests/app/test_browser.py`` does. The
exports are written once into ``--folder`` and kept (``--fresh`` rewrites them); they are
read into llamaprof's disk cache before the server starts ("already cached"). With
``--records`` each export gets a capture record with request times, so the page opens on
the ``workload`` window (each run cut to it: the costlier first open).

Measured, ``--repeats`` times each, in fresh browser sessions:

- open: a link comparing every run (``/compare?run=...&tab=kernels``) until every chart
  of the tab is drawn and the script is idle, from navigation start (the first open in a
  new server process is printed apart: its runs are read from the disk cache);
- clicks: kernels by family, back by kernel, another baseline, another tab: from the click
  until the page's script has run (``data-test-script-state`` back to ``notRunning``, from
  a MutationObserver in the page);
- server time of each: the script runs the server logged meanwhile (``LLAMAPROF_TIMING_LOG``,
  written by ``streamlit_app.py``: entrypoint start to page end), summed;
- floors: the Add page (no chart) and the Single run page of one run (one chart, one
  table): what any page costs the browser here.

It prints each median (and all samples), in the browser and on the server. Not a test:
figures depend on the machine and its load (the budget: open <= 2 s, each click <= 0.5 s
of server time).

    .venv/bin/python scripts/bench_page.py                       # 8 runs, 5 repeats
    .venv/bin/python scripts/bench_page.py --records --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app_server import CHROMIUM, IDLE, streamlit_app  # beside this script

from llamaprof.capture.server import free_port

from synth import write_seed_scale_export  # scripts/synth.py, beside this script

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
#: Records its script states with their times (ms since navigation start) in __states.
OBSERVE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (window.__observer) window.__observer.disconnect();
  window.__states = [[performance.now(), app.getAttribute('data-test-script-state')]];
  window.__observer = new MutationObserver(() => window.__states.push(
      [performance.now(), app.getAttribute('data-test-script-state')]));
  window.__observer.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
#: True once a run started at or after ``t0`` has ended.
RAN_SINCE = """t0 => {
  const s = window.__states || [];
  const i = s.findIndex(([t, v]) => t >= t0 && v === 'running');
  return i >= 0 && s.slice(i + 1).some(([t, v]) => v === 'notRunning');
}"""
CHARTS = "document.querySelectorAll('.vega-embed canvas, .vega-embed svg').length"


def make_folder(folder: Path, runs: int, *, fresh: bool, records: bool) -> list[Path]:
    """``runs`` seed-scale exports in ``folder`` (seeds 1..runs), kept between invocations."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(1, runs + 1):
        path = folder / f"seed-scale-{seed}.sqlite"
        if fresh or not path.exists():
            print(f"writing {path}", flush=True)
            write_seed_scale_export(path, seed=seed)
            os.utime(path, (1_600_000_000, 1_600_000_000))
        record = path.with_name(path.stem + ".llamaprof.json")
        if records:
            _write_record(path, record, seed)
        else:
            record.unlink(missing_ok=True)
        paths.append(path)
    return paths


def _write_record(export: Path, record: Path, seed: int) -> None:
    """A schema-2 record: 8 requests over the middle of the capture, -ngl varying by seed."""
    import sqlite3

    with sqlite3.connect(f"file:{export}?mode=ro", uri=True) as db:
        (zero,) = db.execute("SELECT utcEpochNs FROM TARGET_INFO_SESSION_START_TIME").fetchone()
        first, last = db.execute(
            "SELECT min(start), max(end) FROM CUPTI_ACTIVITY_KIND_KERNEL"
        ).fetchone()
    span = last - first
    requests = []
    for i in range(8):
        start = first + span * (1 + 2 * i) // 20
        end = start + span // 12
        requests.append(
            {
                "index": i,
                "start_ns": zero + start,
                "first_token_ns": zero + start + span // 100,
                "end_ns": zero + end,
                "timings": {"prompt_n": 128, "predicted_n": 256, "cache_n": 0},
            }
        )
    data = {
        "schema": 2,
        "name": export.stem,
        "settings": {"args": ["-ngl", str(90 + seed)], "env": {}},
        "set": {"id": "bench", "config_index": seed - 1},
        "repeat": {"group": f"bench/{seed}", "index": 1, "of": 1},
        "requests": requests,
        "totals": {"generated_tokens": 256 * 8, "requests": 8, "predicted_per_second": 50.0},
    }
    record.write_text(json.dumps(data), encoding="utf-8")
    os.utime(record, (1_600_000_000, 1_600_000_000))


def warm_disk_cache(paths: list[Path], cache: Path) -> None:
    """Read every export once, in a child process, into the disk cache the server uses."""
    code = (
        "import sys; from llamaprof.loading import load_run\n"
        "for p in sys.argv[1:]: load_run(p)\n"
    )
    env = {**os.environ, "LLAMAPROF_CACHE_DIR": str(cache)}
    subprocess.run([sys.executable, "-c", code, *map(str, paths)], check=True, env=env)


class ServerTime:
    """The server time of what happens between ``start()`` and ``stop()``: the script runs
    ``streamlit_app.py`` logged meanwhile, summed (seconds)."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.mark = 0

    def start(self) -> None:
        self.mark = len(self._lines())

    def stop(self) -> float:
        time.sleep(0.2)  # the run's line is written as it ends; let it land
        runs = [line.split() for line in self._lines()[self.mark :]]
        return sum(float(ms) for _, ms in runs) / 1000

    def _lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


def open_link(page, url: str, ready: str, server: ServerTime) -> tuple[float, float]:
    """(browser, server) seconds from navigation start until ``ready`` (a JS expression)
    holds and the script idles, in ``page`` (a fresh one: a new session), closed after: an
    open page keeps a session (and its folder check every second) busy on the server."""
    server.start()
    page.goto(url)
    page.wait_for_function(f"() => ({ready}) && {IDLE}")
    elapsed = page.evaluate("performance.now()") / 1000
    page.close()
    return elapsed, server.stop()


def click_time(page, action, ready: str, server: ServerTime) -> tuple[float, float]:
    """(browser, server) seconds from ``action`` (a callable clicking something) until the
    run it starts has ended (``ready``, a JS expression, holding too)."""
    page.evaluate(OBSERVE)
    server.start()
    t0 = page.evaluate("performance.now()")
    action()
    page.wait_for_function(f"t0 => ({RAN_SINCE})(t0) && ({ready}) && {IDLE}", arg=t0)
    states = page.evaluate("window.__states")
    started = next(t for t, s in states if t >= t0 and s == "running")
    ended = next(t for t, s in states if t > started and s == "notRunning")
    return (ended - t0) / 1000, server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument(
        "--folder", type=Path, default=Path(tempfile.gettempdir()) / "llamaprof-bench-page"
    )
    parser.add_argument("--fresh", action="store_true", help="rewrite the exports")
    parser.add_argument(
        "--records", action="store_true", help="capture records with request times"
    )
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print("needs Debian's chromium at /usr/bin/chromium (scripts/ensure-chromium)",
              file=sys.stderr)  # fmt: skip
        return 2
    from playwright.sync_api import sync_playwright

    reports = args.folder / "reports"
    cache = args.folder / "cache"
    paths = make_folder(reports, args.runs, fresh=args.fresh, records=args.records)
    print("warming the disk cache…", flush=True)
    warm_disk_cache(paths, cache)
    names = [p.stem for p in paths]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    link = f"{base}/compare?" + "&".join(f"run={n}" for n in names) + "&tab=kernels"
    log = args.folder / "streamlit.log"
    timing = args.folder / "timing.log"
    timing.unlink(missing_ok=True)
    server = ServerTime(timing)
    results: dict[str, list[tuple[float, float]]] = {}
    drawn = f"{CHARTS} >= 2"
    titled = "document.querySelector('h1') !== null"
    log.unlink(missing_ok=True)
    timing_env = {"LLAMAPROF_TIMING_LOG": str(timing)}
    with streamlit_app(reports, cache, log, port=port, env=timing_env), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        viewport = {"width": args.width, "height": 1000}
        contexts = []

        def fresh_page(context=None):
            if context is None:
                context = browser.new_context(viewport=viewport)
                contexts.append(context)
            page = context.new_page()
            page.set_default_timeout(180_000)
            return page

        first = open_link(fresh_page(), link, drawn, server)
        warm = browser.new_context(viewport=viewport)  # Streamlit's JS in its cache
        one_run = f"{base}/run?run={names[0]}&tab=kernels"
        open_link(fresh_page(warm), one_run, f"{CHARTS} >= 1", server)
        for _ in range(args.repeats):
            for name, url, ready, context in (
                ("floor: Add page", f"{base}/add", titled, warm),
                ("floor: Single run page, one run", one_run, f"{CHARTS} >= 1", warm),
                ("open link", link, drawn, warm),
                ("open link, new browser context", link, drawn, None),
            ):
                results.setdefault(name, []).append(
                    open_link(fresh_page(context), url, ready, server)
                )
            while contexts:
                contexts.pop().close()
        page = fresh_page(warm)
        page.goto(link)
        page.wait_for_function(f"() => {drawn} && {IDLE}")
        by = page.locator('[data-testid="stButtonGroup"]').filter(has_text="By family")
        tabs = page.get_by_role("tab")
        baseline = page.locator('[data-testid="stSelectbox"]').filter(has_text="Baseline")
        table = "document.querySelector('[data-testid=\"stDataFrame\"]') !== null"
        for i in range(args.repeats):
            other = names[1 + i % (len(names) - 1)]

            def pick(name: str = other) -> None:
                box = baseline.locator("input")
                box.click()
                box.fill(name)
                box.press("Enter")

            for name, action, ready in (
                ("click: by family", lambda: by.get_by_text("By family", exact=True).click(),
                 f"{CHARTS} >= 3 && {table}"),
                ("click: by kernel", lambda: by.get_by_text("By kernel", exact=True).click(),
                 f"{drawn} && {table}"),
                ("click: another baseline", pick, table),
                ("click: tab CUDA API", lambda: tabs.filter(has_text="CUDA API").click(),
                 drawn),
                ("click: tab Kernels", lambda: tabs.filter(has_text="Kernels").click(), drawn),
            ):  # fmt: skip
                results.setdefault(name, []).append(click_time(page, action, ready, server))
        browser.close()
    window = "workload" if args.records else "all"
    print(f"\n{args.runs} seed-scale runs, window {window}, {args.width} px, ", end="")
    print(f"{args.repeats} repeats")
    print("medians, browser / server (all samples, browser / server)")
    print(
        f"  open link, first in a new server process and browser: {first[0]:.2f} s / "
        f"{first[1]:.2f} s"
    )
    for name, samples in results.items():
        browser_s = statistics.median(b for b, _ in samples)
        server_s = statistics.median(s for _, s in samples)
        shown = ", ".join(f"{b:.2f}/{s:.2f}" for b, s in samples)
        print(f"  {name}: {browser_s:.2f} s / {server_s:.2f} s  ({shown})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
