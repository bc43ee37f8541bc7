"""What a browser or a capture may do on this machine: the reports folder and the loopback rules.

The core's one place for these rules, shared by the app (``llamaprof.ui``), the folder logic
(``llamaprof.discover``), the command line and captures (``llamaprof.capture``). Kept
streamlit-free: the app passes its ``server.address`` in.

- The reports folder: ``$LLAMAPROF_REPORTS_DIR``, else ``./reports`` (``default_reports_dir``).
- Picking files from a browser (changing the folder, "add by path"): only while the app
  listens on loopback alone, unless ``LLAMAPROF_ALLOW_FOLDER_CHANGE=1``.
- Starting captures from a browser: only while the app listens on loopback alone;
  ``LLAMAPROF_ALLOW_CAPTURE=1`` allows it from any address, ``=0`` forbids it everywhere.
- Captures only ever give llama-server, and contact, the loopback address ``LOOPBACK``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "ALLOW_CAPTURE_ENV",
    "ALLOW_FOLDER_CHANGE_ENV",
    "DEFAULT_REPORTS_DIR",
    "LOOPBACK",
    "LOOPBACK_ADDRESSES",
    "REPORTS_DIR_ENV",
    "capture_allowed",
    "default_reports_dir",
    "folder_choice_allowed",
]

#: Default reports folder, relative to the working directory the app starts in.
DEFAULT_REPORTS_DIR = "reports"
#: Environment variable that overrides the default reports folder.
REPORTS_DIR_ENV = "LLAMAPROF_REPORTS_DIR"
#: Environment variable that lets a browser change the folder off loopback (value ``1``).
ALLOW_FOLDER_CHANGE_ENV = "LLAMAPROF_ALLOW_FOLDER_CHANGE"
#: Environment variable that allows (``1``) or forbids (``0``) captures from the app.
ALLOW_CAPTURE_ENV = "LLAMAPROF_ALLOW_CAPTURE"
#: ``server.address`` values that mean "this machine only".
LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "localhost", "::1"})
#: The only address a capture ever gives llama-server or sends a request to.
LOOPBACK = "127.0.0.1"


def default_reports_dir() -> Path:
    """The reports folder from ``LLAMAPROF_REPORTS_DIR``, else ``./reports``."""
    return Path(os.environ.get(REPORTS_DIR_ENV) or DEFAULT_REPORTS_DIR).expanduser()


def folder_choice_allowed(address: str | None, environ: Mapping[str, str]) -> tuple[bool, str]:
    """Whether a browser may pick files on this machine, and one line saying why (not).

    Picking files means changing the reports folder (which uploads, pasted text and
    captures write into, and which is read recursively) and "add by path" (which links
    any readable file into it). Allowed when the app listens on loopback only
    (``address``: Streamlit's ``server.address``), or when the operator sets
    ``LLAMAPROF_ALLOW_FOLDER_CHANGE=1``; otherwise every session uses the server's folder.

    >>> folder_choice_allowed("127.0.0.1", {})[0], folder_choice_allowed("0.0.0.0", {})[0]
    (True, False)
    """
    if environ.get(ALLOW_FOLDER_CHANGE_ENV) == "1":
        return True, f"{ALLOW_FOLDER_CHANGE_ENV}=1 lets every visitor pick the folder."
    if address in LOOPBACK_ADDRESSES:
        return True, f"The app listens on {address} only, so only this machine picks the folder."
    where = f"on {address}" if address else "on every network interface"
    return False, (
        f"Fixed by the server: this app listens {where}, so visitors cannot point it at other "
        f"files. Set {REPORTS_DIR_ENV} when starting it, or {ALLOW_FOLDER_CHANGE_ENV}=1 to "
        "allow changing it from the browser."
    )


def capture_allowed(
    address: str | None, environ: Mapping[str, str] | None = None
) -> tuple[bool, str]:
    """(allowed, why) for an app listening on ``address`` (``""``/None: every interface).

    ``environ`` defaults to ``os.environ``; the reason is one sentence for the user.

    >>> capture_allowed("127.0.0.1", {})[0], capture_allowed("0.0.0.0", {})[0]
    (True, False)
    """
    setting = (os.environ if environ is None else environ).get(ALLOW_CAPTURE_ENV)
    if setting == "0":
        return False, f"Capturing is off on this server ({ALLOW_CAPTURE_ENV}=0)."
    if setting == "1":
        return True, f"{ALLOW_CAPTURE_ENV}=1 allows captures from any address the app listens on."
    if address in LOOPBACK_ADDRESSES:
        return True, f"The app listens on {address} only, so only this machine can start one."
    where = f"on {address}" if address else "on every network interface"
    return False, (
        f"Capturing is off: this app listens {where}, and a capture starts programs on this "
        f'machine. Run the app with `server.address = "127.0.0.1"` (the default in '
        f"`.streamlit/config.toml`), or set {ALLOW_CAPTURE_ENV}=1 to allow it anyway."
    )
