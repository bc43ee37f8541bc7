"""Safe by default: loopback only, captures gated, no shell anywhere, uploads stay in the folder.

The capture gate is checked through AppTest on the real page, including a forged click
on the disabled Start button (what a hand-made websocket message would send): Streamlit
drops it server-side, so nothing starts.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest
import streamlit as st
from app.support import GENERATED, SEED, copy_report
from hypothesis import example, given, settings
from hypothesis import strategies as st_h
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from llamaprof.discover import is_temporary, safe_name, save_upload

ROOT = Path(__file__).resolve().parents[2]
PYTHON_SOURCES = sorted(
    [
        *(ROOT / "llamaprof").rglob("*.py"),
        *(ROOT / "app_pages").glob("*.py"),
        ROOT / "streamlit_app.py",
    ]
)
#: Calls that hand a command line to a shell.
SHELL_CALLS = {
    ("os", "system"), ("os", "popen"), ("subprocess", "getoutput"),
    ("subprocess", "getstatusoutput"), ("asyncio", "create_subprocess_shell"),
}  # fmt: skip
PROCESS_CALLS = {"Popen", "run", "call", "check_call", "check_output"}
#: Pieces of hostile upload names.
NAME_PARTS = ["..", "/", "\\", ".", "a", "x.txt", "\x00", "C:", ".nsys-rep", ".part", " "]


def test_streamlit_config_listens_on_loopback_only() -> None:
    """The shipped .streamlit/config.toml binds the app to 127.0.0.1 and sends no usage stats."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["browser"]["gatherUsageStats"] is False


def _shell_uses(path: Path, root: Path = ROOT) -> list[str]:
    """``file:line call`` for every shell use in ``path``'s code (path relative to ``root``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        owner = getattr(func.value, "id", "") if isinstance(func, ast.Attribute) else ""
        where = f"{path.relative_to(root)}:{node.lineno} {owner}.{name}"
        if (owner, name) in SHELL_CALLS:
            found.append(where)
        for kw in node.keywords:
            if kw.arg == "shell" and not (
                isinstance(kw.value, ast.Constant) and kw.value.value is False
            ):
                found.append(where + " shell=...")
        if name in PROCESS_CALLS and owner in ("subprocess", "") and node.args:
            first = node.args[0]
            if isinstance(first, ast.JoinedStr | ast.BinOp) or (
                isinstance(first, ast.Constant) and isinstance(first.value, str)
            ):
                found.append(where + " with a command string")
    return found


def test_no_shell_anywhere_in_the_package() -> None:
    """No shell=True, os.system, os.popen or command strings: every command is an argument list."""
    assert len(PYTHON_SOURCES) > 30
    uses = [use for path in PYTHON_SOURCES for use in _shell_uses(path)]
    assert uses == []


def test_the_shell_check_finds_shell_uses(tmp_path: Path) -> None:
    """The checker itself flags each kind of shell use (so an empty result means something)."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import os, subprocess\n"
        "subprocess.run('ls -l', shell=True)\n"
        "os.system('ls')\n"
        "subprocess.Popen(f'nsys {x}')\n"
        "subprocess.run(['ls'], shell=False)\n"
    )
    assert [u.split(" ", 1)[1] for u in _shell_uses(bad, tmp_path)] == [
        "subprocess.run shell=...",
        "subprocess.run with a command string",
        "os.system",
        "subprocess.Popen with a command string",
    ]


@settings(max_examples=300, deadline=None, database=None)
@given(
    name=st_h.text(max_size=60)
    | st_h.lists(st_h.sampled_from(NAME_PARTS), max_size=12).map("".join)
)
@example(name="0.PART.")  # found by this test: was saved as "0.PART", a hidden temp name
def test_safe_name_never_leaves_the_folder_or_hides(name: str) -> None:
    """Any user-given name becomes one visible path component: no separator, no dot start."""
    safe = safe_name(name)
    assert safe and "/" not in safe and "\\" not in safe and "\x00" not in safe
    assert safe not in (".", "..") and not safe.startswith(".")
    assert not is_temporary(safe)
    assert len(safe) <= 200


@pytest.mark.parametrize("name", ["../../evil.txt", "a/b\\c.txt", "/etc/passwd", "..", "...."])
def test_uploads_land_inside_the_folder(tmp_path: Path, name: str) -> None:
    """save_upload writes right inside the reports folder whatever the upload's name."""
    folder = tmp_path / "reports"
    path = save_upload(folder, name, b"x")
    assert path.parent == folder and path.resolve().parent == folder.resolve()
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "reports", f"reports/{path.name}",
    ]  # fmt: skip


# --- the capture gate ------------------------------------------------------------------------


@pytest.fixture
def capture_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Open the Capture page with ``server.address`` set as asked; restores the option."""
    monkeypatch.setenv("LLAMAPROF_NO_WATCH", "1")
    monkeypatch.setenv("LLAMAPROF_CACHE_DIR", str(tmp_path / "run-cache"))
    monkeypatch.delenv("LLAMAPROF_ALLOW_CAPTURE", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")  # no llama-server to find: nothing can run
    # Off loopback the session's folder is ignored: the server's folder must be a temporary one.
    monkeypatch.setenv("LLAMAPROF_REPORTS_DIR", str(tmp_path / "reports"))
    before = st_config.get_option("server.address")
    st.cache_resource.clear()

    def open_page(address: str) -> AppTest:
        st_config.set_option("server.address", address)
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
        at.session_state["reports_dir"] = str(tmp_path / "reports")
        at.run()
        at.switch_page("app_pages/capture.py").run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    yield open_page
    st_config.set_option("server.address", before)
    st.cache_resource.clear()


def _forge_start_click(at: AppTest) -> AppTest:
    """Send Start's click as a hand-made client message would, even if Start is disabled."""
    at.text_input(key="capture_model").set_value("/no/model.gguf")
    at.button(key="capture_start")._value = True  # bypasses AppTest's disabled check
    return at.run()


@pytest.mark.parametrize(
    ("address", "where"),
    [("", "on every network interface"), ("0.0.0.0", "on 0.0.0.0"), ("::", "on ::"),
     ("192.168.1.5", "on 192.168.1.5")],
)  # fmt: skip
def test_capture_is_refused_off_loopback_even_for_a_forged_click(capture_page, address, where):
    """Off loopback, Start is disabled with the reason, and a forged click starts nothing."""
    at = capture_page(address)
    assert at.warning[0].value.startswith(f"Capturing is off: this app listens {where}, ")
    assert at.button(key="capture_start").disabled is True
    _forge_start_click(at)
    assert not at.exception and not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("address", ["127.0.0.1", "localhost", "::1"])
def test_capture_is_allowed_on_loopback(capture_page, address):
    """On loopback the same click reaches the capture, which checks its settings."""
    at = capture_page(address)
    # No warning about captures (one may say the machine has no NVIDIA driver: the page's
    # pre-flight, which depends on the machine, not on the address)
    assert not [w.value for w in at.warning if "driver" not in w.value]
    assert at.caption[0].value == (
        f"The app listens on {address} only, so only this machine can start one."
    )
    _forge_start_click(at)
    assert [e.value for e in at.error] == ["llama-server not found: 'llama-server' is not on PATH"]


def test_operator_can_switch_captures_off_on_loopback(capture_page, monkeypatch):
    """LLAMAPROF_ALLOW_CAPTURE=0 disables Start even on loopback (an app behind a proxy)."""
    monkeypatch.setenv("LLAMAPROF_ALLOW_CAPTURE", "0")
    at = capture_page("127.0.0.1")
    assert at.warning[0].value == "Capturing is off on this server (LLAMAPROF_ALLOW_CAPTURE=0)."
    assert at.button(key="capture_start").disabled is True
    _forge_start_click(at)
    assert not at.exception and not at.error, [e.value for e in at.error]


# --- the reports folder off loopback ---------------------------------------------------------


@pytest.fixture
def app_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Open the app with ``server.address`` as asked, the server's folder holding the seed run.

    The session asks for another folder (holding the generated run), as a visitor typing
    a path, or a forged widget value, would. Restores the option.
    """
    monkeypatch.setenv("LLAMAPROF_NO_WATCH", "1")
    monkeypatch.setenv("LLAMAPROF_CACHE_DIR", str(tmp_path / "run-cache"))
    monkeypatch.delenv("LLAMAPROF_ALLOW_FOLDER_CHANGE", raising=False)
    server_folder, visitor_folder = tmp_path / "server-reports", tmp_path / "elsewhere"
    copy_report(SEED, server_folder)
    copy_report(GENERATED, visitor_folder)
    monkeypatch.setenv("LLAMAPROF_REPORTS_DIR", str(server_folder))
    before = st_config.get_option("server.address")
    st.cache_data.clear()
    st.cache_resource.clear()

    def open_app(address: str) -> AppTest:
        st_config.set_option("server.address", address)
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
        at.session_state["reports_dir"] = str(visitor_folder)
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    yield open_app, server_folder, visitor_folder
    st_config.set_option("server.address", before)
    st.cache_data.clear()
    st.cache_resource.clear()


def _listed(at: AppTest) -> list[str]:
    return [m.value for m in at.sidebar.markdown]


def test_off_loopback_the_folder_is_the_servers_and_cannot_change(app_on) -> None:
    """On 0.0.0.0 the folder input is disabled and shows the server's folder; the session's is ignored."""
    open_app, server_folder, _visitor = app_on
    at = open_app("0.0.0.0")
    field = at.sidebar.text_input(key="reports_dir")
    assert field.disabled is True
    assert field.value == str(server_folder)
    assert _listed(at) == [f"**{SEED.stem}**"]
    assert at.sidebar.caption[0].value == f"1 readable run of 1 in `{server_folder}`"
    # A value sent for the disabled input (a hand-made message) changes nothing.
    field._value = "/"
    at.run()
    assert at.sidebar.caption[0].value == f"1 readable run of 1 in `{server_folder}`"


def test_off_loopback_uploads_go_to_the_servers_folder_and_add_by_path_is_off(app_on) -> None:
    """Uploads land in the server's folder; add-by-path is disabled and refuses a forged click."""
    open_app, server_folder, visitor_folder = app_on
    at = open_app("0.0.0.0")
    at.switch_page("app_pages/add.py").run()
    at.file_uploader(key="uploader").upload("new.txt", SEED.read_bytes(), "text/plain").run()
    assert [m.value for m in at.success] == ["Added `new.txt`."]
    assert sorted(p.name for p in server_folder.iterdir()) == [SEED.name, "new.txt"]
    assert sorted(p.name for p in visitor_folder.iterdir()) == [GENERATED.name]
    assert at.button(key="add_path_button").disabled is True
    assert at.text_input(key="add_path").disabled is True
    assert at.main.caption[-1].value.startswith(
        "Adding by path is off. Fixed by the server: this app listens on 0.0.0.0, "
    )
    # A forged message: a path typed into the disabled input and a click on the disabled button.
    at.text_input(key="add_path")._value = str(visitor_folder / GENERATED.name)
    at.button(key="add_path_button")._value = True  # bypasses AppTest's disabled check
    at.run()
    # Streamlit drops the disabled button's click (the callback checks the policy again):
    # the page still shows the upload's message only, and nothing was linked.
    assert not at.exception and not at.error
    assert [m.value for m in at.success] == ["Added `new.txt`."]
    assert sorted(p.name for p in server_folder.iterdir()) == [SEED.name, "new.txt"]


@pytest.mark.parametrize("opt_in", [False, True])
def test_on_loopback_or_opted_in_the_session_picks_the_folder(app_on, monkeypatch, opt_in) -> None:
    """On 127.0.0.1 (or 0.0.0.0 with LLAMAPROF_ALLOW_FOLDER_CHANGE=1) the session's folder is used."""
    open_app, _server, visitor_folder = app_on
    if opt_in:
        monkeypatch.setenv("LLAMAPROF_ALLOW_FOLDER_CHANGE", "1")
    at = open_app("0.0.0.0" if opt_in else "127.0.0.1")
    field = at.sidebar.text_input(key="reports_dir")
    assert field.disabled is False
    assert field.value == str(visitor_folder)
    assert _listed(at) == [f"**{GENERATED.stem}**"]
    at.switch_page("app_pages/add.py").run()
    assert at.button(key="add_path_button").disabled is False
