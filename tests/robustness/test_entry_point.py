"""The ``llamaprof`` command's entry point: a Ctrl-C while it loads is a cancel, not a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from llamaprof import __main__ as entry


class _InterruptLoading:
    """An import hook that raises KeyboardInterrupt for ``llamaprof.cli``, as Ctrl-C would."""

    def find_spec(self, name, path=None, target=None):
        if name == "llamaprof.cli":
            raise KeyboardInterrupt
        return None


def test_ctrl_c_while_loading_exits_130_quietly(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "llamaprof.cli", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_InterruptLoading(), *sys.meta_path])
    with pytest.raises(SystemExit) as exited:
        entry.run()
    assert exited.value.code == 130
    assert capsys.readouterr() == ("", "")


def test_python_dash_m_runs_the_command():
    done = subprocess.run(
        [sys.executable, "-m", "llamaprof", "--version"], capture_output=True, text=True
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "llamaprof, version 0.2.0\n", "")


def test_ctrl_c_while_a_command_runs_exits_130_quietly(monkeypatch):
    """Ctrl-C during a read: exit status 130, as while loading, not click's "Aborted!" (1)."""
    from click.testing import CliRunner

    from llamaprof.cli import main
    from llamaprof.cli import stats as stats_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(stats_module, "load_run", interrupted)
    result = CliRunner().invoke(main, ["stats", "reports/gemma3-4b-f16-fa-seed.txt"])
    assert (result.exit_code, result.output) == (130, "")
