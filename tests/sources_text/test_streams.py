"""Reports read from a pipe (``llamaprof stats <(nsys stats r.sqlite)``) are read once, fully."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from llamaprof import reports
from llamaprof.errors import ReportParseError
from llamaprof.sources import load_report

from shared_data import shared_file

SEED = "stats-text/seed__llama-server-gemma3-4b-f16__nsys2025.1.3.txt"


def _fifo_with(tmp_path: Path, data: bytes) -> Path:
    """A named pipe that a thread fills with ``data`` once a reader opens it."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def feed() -> None:
        with fifo.open("wb") as out:
            out.write(data)

    threading.Thread(target=feed, daemon=True).start()
    return fifo


def test_text_from_a_pipe_reads_like_the_file(tmp_path: Path):
    """The seed's text through a pipe gives the same API summary as the file itself."""
    seed = shared_file(SEED)
    run = load_report(_fifo_with(tmp_path, seed.read_bytes()))
    assert run.path == tmp_path / "pipe"
    assert run.summaries[reports.API].equals(load_report(seed).summaries[reports.API])


def test_sqlite_from_a_pipe_is_read(tmp_path: Path):
    """An SQLite export piped in is spooled and read: the kernel row of a real export."""
    source = shared_file("sqlite/0x822a5b87__test-cuda__report1.sqlite")
    run = load_report(_fifo_with(tmp_path, source.read_bytes()))
    expected = load_report(source).summaries[reports.KERNELS]
    assert run.summaries[reports.KERNELS].equals(expected)


def test_garbage_from_a_pipe_is_refused_with_the_pipe_named(tmp_path: Path):
    """Random bytes through a pipe get the usual one-line reason, naming the pipe."""
    with pytest.raises(ReportParseError) as info:
        load_report(_fifo_with(tmp_path, b"\x00\x01 not a report"))
    assert str(info.value).startswith("pipe: is not an nsys report")


def test_cli_reads_standard_input(tmp_path: Path):
    """`llamaprof stats /dev/stdin` prints the piped report's table."""
    seed = shared_file(SEED)
    exe = Path(sys.executable).with_name("llamaprof")
    result = subprocess.run(
        [str(exe), "stats", "/dev/stdin", "-r", "cuda_api_sum", "-f", "csv"],
        input=seed.read_bytes(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert (
        lines[1]
        == "81.2,18784449306,13185,1424683.3,6991.0,306,26541226,4702507.3,cudaStreamSynchronize"
    )
