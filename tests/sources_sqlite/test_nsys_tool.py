"""``llamaprof.nsys``: the one lookup of the nsys executable and the one ``nsys export``."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from llamaprof import nsys as nsys_tool
from llamaprof.errors import CaptureCancelled, NsysNotFound

FAKE = """#!{python}
import os, sys, time
args = sys.argv[1:]
if args == ["--version"]:
    print("NVIDIA Nsight Systems version 2025.5.1.121-255436116512v0")
    sys.exit(0)
mode = os.environ.get("FAKE_MODE", "ok")
if mode == "sleep":
    time.sleep(30)
print("Processing events...")
if mode == "fail":
    print("line before", file=sys.stderr)
    print("Error: no CUDA data", file=sys.stderr)
    sys.exit(2)
if mode != "silent":
    open(args[args.index("--output") + 1], "w").write("exported")
"""


def _fake(folder: Path, name: str = "nsys") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text(FAKE.format(python=sys.executable))
    script.chmod(0o755)
    return script


@pytest.fixture
def no_nsys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No nsys anywhere: empty PATH, no known folders, no $LLAMAPROF_NSYS."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(nsys_tool, "KNOWN_NSYS", ())
    monkeypatch.delenv(nsys_tool.NSYS_ENV, raising=False)
    return empty


def test_lookup_order_explicit_then_env_then_path_then_known(tmp_path, no_nsys, monkeypatch):
    """Each source wins over the ones after it; a known install folder is the last resort."""
    known = _fake(tmp_path / "cuda-12.4" / "bin")
    monkeypatch.setattr(nsys_tool, "KNOWN_NSYS", (str(tmp_path / "cuda-*" / "bin" / "nsys"),))
    assert nsys_tool.find_nsys() == str(known)
    on_path = _fake(no_nsys)
    assert nsys_tool.find_nsys() == str(on_path)
    from_env = _fake(tmp_path / "env", "nsys-env")
    monkeypatch.setenv(nsys_tool.NSYS_ENV, str(from_env))
    assert nsys_tool.find_nsys() == str(from_env)
    explicit = _fake(tmp_path / "explicit", "nsys-x")
    assert nsys_tool.find_nsys(str(explicit)) == str(explicit)


def test_a_configured_nsys_that_is_missing_is_an_error(tmp_path, no_nsys, monkeypatch):
    """$LLAMAPROF_NSYS or an explicit path naming nothing is never replaced by PATH's nsys."""
    _fake(no_nsys)
    monkeypatch.setenv(nsys_tool.NSYS_ENV, str(tmp_path / "gone"))
    with pytest.raises(NsysNotFound) as caught:
        nsys_tool.find_nsys()
    assert str(caught.value) == (
        f"nsys not found: {tmp_path / 'gone'} (from $LLAMAPROF_NSYS); "
        "set LLAMAPROF_NSYS to the nsys executable"
    )
    with pytest.raises(NsysNotFound) as caught:
        nsys_tool.find_nsys("/no/such/nsys", hint="give --nsys PATH")
    assert str(caught.value) == "nsys not found: /no/such/nsys; give --nsys PATH"


def test_nothing_found_says_where_it_looked(no_nsys):
    """No nsys anywhere: one line naming PATH and the install folders, then the hint."""
    with pytest.raises(NsysNotFound) as caught:
        nsys_tool.find_nsys(hint="give --nsys PATH or capture with --no-profile")
    assert str(caught.value) == (
        "nsys not found on PATH or in /usr/local/cuda*/ or /opt/nvidia/nsight-systems/; "
        "give --nsys PATH or capture with --no-profile"
    )


def test_version_and_export_command(tmp_path):
    """`nsys --version` is parsed; the export runs as an argument list and writes the file."""
    nsys = str(_fake(tmp_path / "bin"))
    assert nsys_tool.nsys_version(nsys) == "2025.5.1.121-255436116512v0"
    out = tmp_path / "r.sqlite"
    command = nsys_tool.export_sqlite(nsys, tmp_path / "r.nsys-rep", out, timeout_s=30)
    assert command == [
        nsys, "export", "--type", "sqlite", "--output", str(out),
        "--force-overwrite", "true", str(tmp_path / "r.nsys-rep"),
    ]  # fmt: skip
    assert out.read_text() == "exported"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "r.sqlite"]


def test_export_failure_keeps_the_output_tail(tmp_path, monkeypatch):
    """A failing export raises ExportFailed with its status, last line and output tail."""
    nsys = str(_fake(tmp_path / "bin"))
    monkeypatch.setenv("FAKE_MODE", "fail")
    with pytest.raises(nsys_tool.ExportFailed) as caught:
        nsys_tool.export_sqlite(nsys, tmp_path / "r.nsys-rep", tmp_path / "r.sqlite", timeout_s=30)
    assert caught.value.reason == "nsys export failed with status 2: Error: no CUDA data"
    assert caught.value.returncode == 2
    assert caught.value.stderr_tail.splitlines()[-2:] == ["line before", "Error: no CUDA data"]
    monkeypatch.setenv("FAKE_MODE", "silent")
    with pytest.raises(nsys_tool.ExportFailed, match=r"^nsys export wrote no r\.sqlite$"):
        nsys_tool.export_sqlite(nsys, tmp_path / "r.nsys-rep", tmp_path / "r.sqlite", timeout_s=30)


def test_export_is_stopped_on_timeout_and_on_cancel(tmp_path, monkeypatch):
    """A hanging export is killed at its timeout, or at once when cancelled."""
    nsys = str(_fake(tmp_path / "bin"))
    monkeypatch.setenv("FAKE_MODE", "sleep")
    args = (nsys, tmp_path / "r.nsys-rep", tmp_path / "r.sqlite")
    with pytest.raises(nsys_tool.ExportFailed) as caught:
        nsys_tool.export_sqlite(*args, timeout_s=0.3)
    assert caught.value.reason == "nsys export did not finish within 0.3 s"
    assert caught.value.returncode is None
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CaptureCancelled):
        nsys_tool.export_sqlite(*args, timeout_s=30, cancel=cancel)


def test_unrunnable_nsys_is_an_export_failure(tmp_path):
    """An nsys that cannot be started gives a one-line ExportFailed, not an OSError."""
    broken = tmp_path / "nsys"
    broken.write_text("not a program")
    broken.chmod(0o755)
    with pytest.raises(nsys_tool.ExportFailed, match=r"^could not run nsys at .*nsys \("):
        nsys_tool.export_sqlite(str(broken), tmp_path / "r.nsys-rep", tmp_path / "r.sqlite",
                                timeout_s=30)  # fmt: skip
