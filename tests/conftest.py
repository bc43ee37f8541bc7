"""Shared test fixtures: where the real nsys outputs live, and how to skip without them."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared_data import ROOT, SEED_TEXT, SHARED_NSYS, shared_file, shared_files

__all__ = ["ROOT", "SEED_TEXT", "SHARED_NSYS", "shared_file", "shared_files"]


@pytest.fixture
def shared_nsys() -> Path:
    """The ../shared/data/nsys folder; skips when it is absent."""
    if not SHARED_NSYS.exists():
        pytest.skip("real nsys data not available: ../shared/data/nsys is absent")
    return SHARED_NSYS


#: CI sets this to 1 after installing the real Nsight Systems: a test that needs it then
#: fails instead of skipping, so a broken install cannot turn the real-nsys tests green.
REQUIRE_NSYS_ENV = "LLAMAPROF_REQUIRE_NSYS"
#: Where Debian's nsight-systems package puts nsys (../shared/docs/real-nsys.md).
DEBIAN_NSYS = Path("/usr/lib/nsight-systems/bin/nsys")


@pytest.fixture(scope="session")
def real_nsys() -> str:
    """The real nsys executable (full path: started by its bare name it hangs more often).

    Skips when it is not installed, unless ``LLAMAPROF_REQUIRE_NSYS=1`` (CI), where it fails.
    """
    import os
    import shutil

    found = str(DEBIAN_NSYS) if DEBIAN_NSYS.exists() else shutil.which("nsys")
    if found:
        return str(Path(found).resolve())
    message = "the real nsys is not installed (make test installs Debian's nsight-systems)"
    if os.environ.get(REQUIRE_NSYS_ENV) == "1":
        pytest.fail(message)
    pytest.skip(message)
