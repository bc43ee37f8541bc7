"""The app's pages, in one registry: the entrypoint and the tests both read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: its file under ``app_pages/``, title, icon, url path, whether it is
    the default (served at the root only) and whether the navigation lists it."""

    file: str
    title: str
    icon: str
    url_path: str
    default: bool = False
    visible: bool = True


PAGES: tuple[PageSpec, ...] = (
    # The root opens Compare: a page of its own, since the default page's url_path is not
    # served (``/compare`` showed "Page not found").
    PageSpec("app_pages/home.py", "llamaprof", ":material/speed:", "home", True, visible=False),
    PageSpec("app_pages/compare.py", "Compare runs", ":material/compare_arrows:", "compare"),
    PageSpec("app_pages/run.py", "Single run", ":material/analytics:", "run"),
    PageSpec("app_pages/add.py", "Add reports", ":material/upload_file:", "add"),
    PageSpec("app_pages/capture.py", "Capture", ":material/radio_button_checked:", "capture"),
)
