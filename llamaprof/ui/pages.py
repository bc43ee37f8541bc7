"""The app's pages, in one registry: the entrypoint and the tests both read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: its file under ``app_pages/``, title, icon, and url path."""

    file: str
    title: str
    icon: str
    url_path: str
    default: bool = False


PAGES: tuple[PageSpec, ...] = (
    PageSpec("app_pages/compare.py", "Compare runs", ":material/compare_arrows:", "compare", True),
    PageSpec("app_pages/run.py", "Single run", ":material/analytics:", "run"),
    PageSpec("app_pages/add.py", "Add reports", ":material/upload_file:", "add"),
    PageSpec("app_pages/capture.py", "Capture", ":material/radio_button_checked:", "capture"),
)
