"""Whether the app may start a capture: the policy, without Streamlit.

A capture starts programs on this machine, so the app allows it only when it listens on
loopback alone, unless the operator decides otherwise with ``LLAMAPROF_ALLOW_CAPTURE``:
``1`` allows captures from any address, ``0`` forbids them everywhere (an app behind an
authenticating proxy still listens on loopback). The app checks this when it draws the
Start button, in the button's callback, and ``BackgroundCapture.start`` checks it again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from llamaprof.discover import LOOPBACK_ADDRESSES  # the same rule as the folder policy

ALLOW_ENV = "LLAMAPROF_ALLOW_CAPTURE"


def capture_allowed(
    address: str | None, environ: Mapping[str, str] | None = None
) -> tuple[bool, str]:
    """(allowed, why) for an app listening on ``address`` (``""``/None: every interface).

    ``environ`` defaults to ``os.environ``; the reason is one sentence for the user.
    """
    setting = (os.environ if environ is None else environ).get(ALLOW_ENV)
    if setting == "0":
        return False, f"Capturing is off on this server ({ALLOW_ENV}=0)."
    if setting == "1":
        return True, f"{ALLOW_ENV}=1 allows captures from any address the app listens on."
    if address in LOOPBACK_ADDRESSES:
        return True, f"The app listens on {address} only, so only this machine can start one."
    where = f"on {address}" if address else "on every network interface"
    return False, (
        f"Capturing is off: this app listens {where}, and a capture starts programs on this "
        f'machine. Run the app with `server.address = "127.0.0.1"` (the default in '
        f"`.streamlit/config.toml`), or set {ALLOW_ENV}=1 to allow it anyway."
    )
