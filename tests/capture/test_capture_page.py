"""The Capture page through AppTest, with a real llama-server under the real nsys."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import streamlit as st
from capture.processes import wait_until_none_left
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
PAGE = "app_pages/capture.py"
NO_CUDA = (
    "No NVIDIA driver answers (nvidia-smi failed with status 9: NVIDIA-SMI has failed because "
    "it couldn't communicate with the NVIDIA driver): a profiled capture's report will hold "
    "no CUDA data (no kernels, CUDA API calls or memory copies), only what nsys traces on "
    "the CPU. Captures still run."
)


@pytest.fixture(autouse=True)
def _clean_app(monkeypatch, tmp_path):
    """Fresh Streamlit caches (so a fresh capture runner), no folder watcher thread."""
    monkeypatch.setenv("LLAMAPROF_NO_WATCH", "1")
    monkeypatch.setenv("LLAMAPROF_CACHE_DIR", str(tmp_path / "run-cache"))
    monkeypatch.delenv("LLAMAPROF_ALLOW_CAPTURE", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


@pytest.fixture
def address():
    """Set the address the app listens on for one test."""
    before = st_config.get_option("server.address")

    def set_address(value):
        st_config.set_option("server.address", value)

    yield set_address
    st_config.set_option("server.address", before)


def open_page(reports: Path) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.session_state["reports_dir"] = str(reports)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def fill(at: AppTest, **values) -> None:
    for key, value in values.items():
        at.get_by_key(f"capture_{key}").set_value(value)


def wait_until_done(at: AppTest, timeout: float = 60) -> None:
    """Rerun the page (as its self-refreshing part does) until the capture has ended."""
    deadline = time.monotonic() + timeout
    while True:
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        ended = at.success or at.error or any(w.value.startswith("The capture") for w in at.warning)
        if not _has_cancel(at) and ended:
            return
        assert time.monotonic() < deadline, "the capture did not finish"
        time.sleep(0.2)


def _has_cancel(at: AppTest) -> bool:
    return any(b.key == "capture_cancel" for b in at.button)


def test_capture_is_off_unless_the_app_is_on_loopback(reports, address, monkeypatch, no_driver):
    """On a network address the page says why capturing is off, and Start is disabled."""
    address("0.0.0.0")
    at = open_page(reports)
    assert at.title[0].value == "Capture"
    assert at.warning[0].value.startswith(
        "Capturing is off: this app listens on 0.0.0.0, and a capture starts programs"
    )
    assert [w.value for w in at.warning[1:]] == [NO_CUDA]
    assert at.button(key="capture_start").disabled is True
    monkeypatch.setenv("LLAMAPROF_ALLOW_CAPTURE", "1")
    at = open_page(reports)
    assert [w.value for w in at.warning] == [NO_CUDA]
    assert at.button(key="capture_start").disabled is False


def test_no_cuda_note_only_without_a_driver(reports, address, tmp_path, monkeypatch):
    """With a driver that lists a GPU, the page says nothing about CUDA data."""
    address("127.0.0.1")
    smi = tmp_path / "smi-ok" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text("#!/bin/sh\necho '0, NVIDIA H100, 81559 MiB, 550.54, 00000000:01:00.0'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{smi.parent}:/usr/bin:/bin")
    at = open_page(reports)
    assert not at.warning


def test_enter_in_a_field_never_starts_a_capture(reports, address, llama_server, no_driver):
    """The settings are a form that Enter does not submit: only the Start button starts.

    In the browser, Enter in a form's text field presses its submit button unless the form
    has ``enter_to_submit`` off (tests/app/test_browser.py presses it for real); here the
    form says so, and committing values (what Enter then does) starts nothing.
    """
    address("127.0.0.1")
    at = open_page(reports)
    (form,) = at.get("form")
    assert form.proto.form.enter_to_submit is False
    assert form.proto.form.form_id == "capture_form"
    typed = dict(server=llama_server, model="/no/model.gguf", name="typed", profile=False)
    fill(at, **typed)
    at.run()  # a rerun with the values typed in, without the button
    assert not at.error and list(reports.iterdir()) == []
    fill(at, **typed)
    at.button(key="capture_start").click().run()  # the button: the settings are checked
    assert [e.value for e in at.error] == ["model not found: /no/model.gguf"]


@pytest.mark.server
def test_page_runs_a_capture_and_shows_it(reports, address, llama_server, tiny_model, real_nsys):
    """Filling the form and pressing Start captures a run; the page shows its tokens/s."""
    address("127.0.0.1")
    at = open_page(reports)
    assert at.caption[0].value.startswith("The app listens on 127.0.0.1 only")
    fill(
        at,
        server=llama_server,
        model=str(tiny_model),
        server_args="-c 512 -np 1",
        nsys=real_nsys,
        requests=2,
        n_predict=4,
        name="from-app",
    )
    at.button(key="capture_start").click().run()
    assert not at.error, [e.value for e in at.error]
    wait_until_done(at)
    assert [s.value for s in at.success] == ["Captured 1 run; it is in the run list."]
    table = at.dataframe[0].value  # this capture's results
    assert list(table["run"]) == ["from-app"]
    assert list(table["config"]) == ["-c 512 -np 1"]
    assert list(table["report"]) == ["from-app.nsys-rep"]
    records = at.dataframe[1].value  # every record in the folder
    assert list(records["run"]) == ["from-app"] and list(records["profiled"]) == [True]
    # Both tables are the library's record rows: the same columns, the same values.
    assert (
        list(table.columns)
        == list(records.columns)
        == [
            "run",
            "config",
            "profiled",
            "started",
            "requests",
            "generated_tokens",
            "generation_tok_s",
            "prompt_tok_s",
            "throughput_tok_s",
            "report",
            "problem",
        ]
    )
    assert table.to_dict("records") == records.to_dict("records")
    assert sorted(p.name for p in reports.iterdir()) == [
        "from-app.llamaprof.json",
        "from-app.nsys-rep",
        "from-app.sqlite",
    ]
    # A session on another folder is not told about this capture (the job is the server's).
    other = reports.parent / "elsewhere"
    other.mkdir()
    at2 = open_page(other)
    assert not at2.success and not at2.error
    assert not [w.value for w in at2.warning if w.value.startswith("The capture")]


def test_page_reports_a_bad_setting(reports, address, llama_server):
    """A missing model is refused at Start with its one-line reason; nothing starts."""
    address("127.0.0.1")
    at = open_page(reports)
    fill(at, server=llama_server, model="/no/model.gguf", profile=False)
    at.button(key="capture_start").click().run()
    assert [e.value for e in at.error] == ["model not found: /no/model.gguf"]
    assert list(reports.iterdir()) == []


@pytest.mark.server
def test_page_cancel_stops_the_capture(
    reports, address, llama_server, tiny_model, real_nsys, test_mark
):
    """Cancel on the page stops every process (nsys's agent too) and keeps nothing: the
    page's message is true."""
    address("127.0.0.1")
    at = open_page(reports)
    fill(
        at,
        server=llama_server,
        model=str(tiny_model),
        server_args="-c 512 -np 1",
        nsys=real_nsys,
        requests=40,
        n_predict=300,
    )
    at.button(key="capture_start").click().run()
    deadline = time.monotonic() + 30
    while not any(c.value.startswith("sending requests") for c in at.caption):
        assert not at.error, [e.value for e in at.error]
        assert time.monotonic() < deadline, "the workload never started"
        time.sleep(0.1)
        at.run()
    at.button(key="capture_cancel").click().run()
    wait_until_done(at)
    assert [w.value for w in at.warning if w.value.startswith("The capture")] == [
        "The capture was cancelled: every process was stopped and nothing of the run in "
        "progress was kept."
    ]
    assert wait_until_none_left(test_mark) == []
    assert list(reports.iterdir()) == []
