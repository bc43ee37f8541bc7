"""Every command writes its output by one rule (``llamaprof.cli.output.write_out``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPORTS = Path(__file__).resolve().parents[2] / "reports"
EXPORT = REPORTS / "serving-timeline-generated.sqlite"
SEED = REPORTS / "gemma3-4b-f16-fa-seed.txt"
COMMANDS = {
    "stats": ["stats", str(SEED)],
    "phases": ["phases", str(EXPORT)],
    "timeline": ["timeline", str(EXPORT)],
    "compare": ["compare", str(SEED), str(EXPORT)],
}


def _llamaprof(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llamaprof", *args], text=True, **kwargs)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
@pytest.mark.parametrize("command", COMMANDS)
def test_output_that_cannot_be_written_is_one_line(command, tmp_path):
    """``> /dev/full``: one line naming the cause, exit status 1, no traceback."""
    with open("/dev/full", "w") as full:
        done = _llamaprof(COMMANDS[command], stdout=full, stderr=subprocess.PIPE, cwd=tmp_path)
    assert done.returncode == 1
    assert (
        done.stderr.splitlines()[-1]
        == "llamaprof: cannot write the output: No space left on device"
    )
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_a_reader_that_goes_away_is_not_an_error(command, tmp_path):
    """``| head -c 0``: exit status 0 (the command's own), nothing on stderr but its notes."""
    with subprocess.Popen(
        [sys.executable, "-m", "llamaprof", *COMMANDS[command]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    ) as proc:
        proc.stdout.close()  # the reader is gone before the command writes: EPIPE
        stderr = proc.stderr.read()
        assert proc.wait() == 0
    assert "Traceback" not in stderr and "Broken pipe" not in stderr


def test_a_regression_still_fails_when_the_reader_goes_away(tmp_path):
    """``compare --fail-above | head -c 0``: the regression's exit status 3 stands (the
    generated flash-attention-off run totals 0.6 % more kernel time than the seed)."""
    generated = REPORTS / "gemma3-4b-f16-nofa-generated.txt"
    with subprocess.Popen(
        [sys.executable, "-m", "llamaprof", "compare", str(SEED), str(generated),
         "--fail-above", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    ) as proc:  # fmt: skip
        proc.stdout.close()
        stderr = proc.stderr.read()
        assert proc.wait() == 3
    assert "llamaprof: regression: " in stderr and "Traceback" not in stderr


def test_a_closed_stdout_is_one_line(tmp_path):
    """Started with stdout closed (``>&-``): one line, exit status 1."""
    done = subprocess.run(
        [sys.executable, "-m", "llamaprof", "stats", str(SEED)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        # close fd 1 in the child: Python then has no sys.stdout
        preexec_fn=lambda: __import__("os").close(1),
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "llamaprof: cannot write the output: standard output is closed"
    )
