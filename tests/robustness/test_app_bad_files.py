"""The app with every kind of bad input in its folder or its uploader: reasons, never a trace.

AppTest runs the real pages (no browser); the folder holds the inputs of
``bad_inputs.make_bad_folder`` beside one good export.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import streamlit as st
from app.support import OLD, SEED, make_app
from robustness.bad_inputs import EXACT, GIST, make_bad_folder

from llamaprof.discover import safe_name, scan_reports

from shared_data import shared_file

PAGES = ("app_pages/compare.py", "app_pages/run.py", "app_pages/add.py")


@pytest.fixture(autouse=True)
def _clean_streamlit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Empty Streamlit caches, no watchdog thread, a disk cache of the test's own."""
    monkeypatch.setenv("LLAMAPROF_NO_WATCH", "1")
    monkeypatch.setenv("LLAMAPROF_CACHE_DIR", str(tmp_path / "run-cache"))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def bad_folder(tmp_path: Path) -> Path:
    """A reports folder with every bad input and one good export, all finished writing."""
    export = shared_file("sqlite/0x822a5b87__test-cuda__report1.sqlite")
    folder = tmp_path / "reports"
    folder.mkdir()
    make_bad_folder(folder, export)
    for path in folder.iterdir():
        os.utime(path, (OLD, OLD))
    return folder


def _sidebar_captions(at) -> list[str]:
    return [c.value for c in at.sidebar.caption]


def test_bad_files_are_listed_with_their_reasons_and_every_page_works(bad_folder: Path) -> None:
    """Each bad file shows ``cannot be read: <reason>`` in the run list; no page raises."""
    at = make_app(bad_folder).run()
    assert not at.exception, [e.message for e in at.exception]
    captions = _sidebar_captions(at)
    listed = {e.rel for e in scan_reports(bad_folder)}
    bad = sorted(listed - {"good.sqlite"})
    assert bad == sorted((set(EXACT) | set(GIST)) - {"missing.txt", "a-folder"})
    assert captions[0] == f"1 readable run of {len(listed)} in `{bad_folder}`"
    for name, reason in {**EXACT, **GIST}.items():
        if name in listed:
            assert any(c.startswith("cannot be read: ") and reason in c for c in captions), name
    reasons = [c for c in captions if c.startswith("cannot be read: ")]
    assert len(reasons) == len(bad) and all("\n" not in c for c in reasons)
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.message for e in at.exception])


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "is empty"),
        ("blob.sqlite", bytes(range(256)) * 8, EXACT["noise.sqlite"]),
        ("notes.txt", b"Foo,Bar\n1,2\n", EXACT["unknown.csv"]),
    ],
)
def test_bad_upload_is_refused_in_one_line(tmp_path: Path, name: str, data: bytes, reason: str):
    """A bad upload gives one st.error line with the reason and leaves nothing in the folder."""
    folder = tmp_path / "reports"
    folder.mkdir()
    at = make_app(folder).run()
    at.switch_page("app_pages/add.py").run()
    at.file_uploader(key="uploader").upload(name, data, "application/octet-stream").run()
    assert not at.exception
    assert [e.value for e in at.error] == [f"{name} was not added: {reason}"]
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    ("upload_name", "saved"),
    [("../../evil.txt", "evil.txt"), ("a/b\\c.txt", "c.txt"), ("/etc/..", "report")],
)
def test_upload_names_cannot_leave_the_folder(tmp_path: Path, upload_name: str, saved: str):
    """Names with folders or ``..`` land inside the reports folder under a safe name."""
    folder = tmp_path / "deep" / "reports"
    folder.mkdir(parents=True)
    at = make_app(folder).run()
    at.switch_page("app_pages/add.py").run()
    at.file_uploader(key="uploader").upload(upload_name, SEED.read_bytes(), "text/plain").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert safe_name(upload_name) == saved
    assert [p.name for p in folder.iterdir()] == [saved]
    assert (folder / saved).read_bytes() == SEED.read_bytes()
    # Outside the reports folder only the test's own run cache (the upload was read).
    outside = [p for p in tmp_path.rglob("*") if "run-cache" not in p.relative_to(tmp_path).parts]
    assert sorted(p.name for p in outside) == sorted(["deep", "reports", saved])


def test_upload_of_an_existing_name_keeps_the_old_report(tmp_path: Path):
    """Uploading a file whose name is taken saves it as ``-2``; the old bytes stay."""
    folder = tmp_path / "reports"
    folder.mkdir()
    old = SEED.read_bytes().replace(b"cudaStreamSynchronize", b"cudaStreamSynchronizX")
    (folder / "run.txt").write_bytes(old)
    at = make_app(folder).run()
    at.switch_page("app_pages/add.py").run()
    at.file_uploader(key="uploader").upload("run.txt", SEED.read_bytes(), "text/plain").run()
    assert [s.value for s in at.success] == ["Added `run.txt` as `run-2.txt`."]
    assert (folder / "run.txt").read_bytes() == old
    assert (folder / "run-2.txt").read_bytes() == SEED.read_bytes()


def test_a_reader_bug_shows_as_one_line_not_a_trace(tmp_path: Path, monkeypatch) -> None:
    """An unexpected exception inside a reader is shown as the run's one-line reason."""
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "run.txt").write_bytes(SEED.read_bytes())
    os.utime(folder / "run.txt", (OLD, OLD))

    def broken_read(path, **options):  # options: the format the folder scan sniffed
        raise RuntimeError("kernel table\nsecond line")

    # The reader under the app's loader (llamaprof.loading.load_run, shared with the CLI).
    monkeypatch.setattr("llamaprof.loading.load_report", broken_read)
    at = make_app(folder).run()
    assert not at.exception, [e.message for e in at.exception]
    assert _sidebar_captions(at) == [
        f"0 readable runs of 1 in `{folder}`",
        "cannot be read: could not be read (kernel table)",
    ]
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.message for e in at.exception])
