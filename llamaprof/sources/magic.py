"""The first bytes that name a report's format, for the sniffer and the readers alike (kept
apart from the package ``__init__``, which imports the readers: a reader importing it back
would make a cycle)."""

from __future__ import annotations

__all__ = ["NSYS_REP_MAGIC", "SQLITE_MAGIC"]

#: An SQLite database's header (an nsys SQLite export).
SQLITE_MAGIC = b"SQLite format 3\x00"
#: The header of an ``.nsys-rep`` / ``.qdrep`` report.
NSYS_REP_MAGIC = b"NVIDIA Tegra Profiler Report"
