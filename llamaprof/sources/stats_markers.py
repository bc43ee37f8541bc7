"""The lines `nsys stats` prints around its tables, and the bytes its outputs come in.

- ``read_text_bytes``: a text report's bytes, refusing folders, unreadable files and
  files over ``MAX_TEXT_BYTES`` without reading them;
- ``decode_text``: UTF-8 or UTF-16 text, or None for binary data;
- ``parse_marker``: ``Processing [...] with [.../cuda_api_sum.py]...``, the 2021
  ``Running [.../cudaapisum.py x.sqlite]...``, ``[3/8] Executing 'cuda_api_sum' stats
  report``, `` ** CUDA API Summary (cuda_api_sum):``, the 2019.5–2021 titles
  (``CUDA API Statistics (nanoseconds)``, ``CUDA Memory Operation Statistics (by size
  in KiB):``), ``SKIPPED: <db> does not contain ...``, ``NOTICE:``; each says which
  report the following table (or skip) belongs to, and install paths give the exact
  nsys version.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from llamaprof import reports
from llamaprof.errors import ReportParseError

#: Context of a table that belongs to none of the four CUDA summaries (osrt_sum, nvtx_sum …).
OTHER = "other"

#: A value of the 2024+ grid/block variant of the kernel summary, used only when the
#: plain kernel summary is absent.
KERNEL_GB = "cuda_gpu_kern_gb_sum"


# ---------------------------------------------------------------------------- text

#: Largest text or CSV report read (bytes). ``nsys stats`` output is kilobytes, a
#: transcript with program output a few MB; more is not a stats report, and reading it
#: whole would take gigabytes of memory (a multi-GB file dropped in the folder).
MAX_TEXT_BYTES = 256 * 1024 * 1024


def read_text_bytes(path: Path) -> bytes:
    """The bytes of the text report ``path``; ReportParseError if unreadable or too big.

    Reads at most ``MAX_TEXT_BYTES + 1`` bytes, so a file that grows or lies about its
    size is refused too, never read whole.
    """
    try:
        with path.open("rb") as fh:
            # The size first: a multi-GB file is refused without reading any of it.
            too_big = os.fstat(fh.fileno()).st_size > MAX_TEXT_BYTES
            data = b"" if too_big else fh.read(MAX_TEXT_BYTES + 1)
    except IsADirectoryError:
        raise ReportParseError(path, "is a folder, not a report file") from None
    except OSError as exc:
        raise ReportParseError(path, f"cannot be read ({exc.strerror or exc})") from None
    if too_big or len(data) > MAX_TEXT_BYTES:
        raise ReportParseError(
            path, f"is too big for a text report (over {MAX_TEXT_BYTES // 2**20} MB)"
        )
    return data


def decode_text(data: bytes) -> str | None:
    """``data`` as text, or None when it is binary (NULs, control bytes, broken UTF-8).

    UTF-8 (with or without BOM) and UTF-16 with a BOM (what PowerShell's ``>``
    writes) are read; a few undecodable bytes (a cut multi-byte character) are
    tolerated and read as U+FFFD.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    if b"\x00" in data:
        return None
    text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    # Terminal transcripts keep colour codes (ESC [ ... m); they are not binary.
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    bad = text.count("\ufffd")
    controls = len(re.findall(r"[\x01-\x08\x0e-\x1f\x7f]", text))
    if bad > 8 or controls > max(8, len(text) // 200):
        return None
    return text


# ---------------------------------------------------------------------------- markers


@dataclass(frozen=True)
class Marker:
    """A line nsys prints around its tables.

    ``report``: the report the following table or SKIPPED belongs to (a current
    report name, ``KERNEL_GB``, ``OTHER``), None when the line sets none.
    """

    kind: str  # "report" (title/Processing/Executing), "skipped", "notice"
    report: str | None = None
    skip_reason: str | None = None
    version: str | None = None
    size_unit: str | None = None  # the 2020 titles name the size unit: "(KiB)"
    naming: str | None = None  # "base"/"mangled" from a ``(cuda_gpu_kern_sum:base)`` title
    new_names: bool | None = None  # True: 2023+ report names; False: cudaapisum & co


_PROCESSING_RE = re.compile(
    r"^(?:Processing|Running)\s+\[(?P<body>[^\]]*)\]"
    r"(?:\s+with\s+\[(?P<script>[^\]]*)\])?"
)
_EXECUTING_RE = re.compile(r"^\[\s*\d+\s*/\s*\d+\s*\]\s+Executing\s+'(?P<report>[^']+)'")
_TITLE_RE = re.compile(r"^\*\*\s+.+?\s+\((?P<report>[A-Za-z0-9_]+)(?::(?P<opt>[^()]*))?\):$")
_SKIPPED_RE = re.compile(r"(?:^|\s)(?:SKIPPED|ERROR):\s*(?P<rest>.*)$")
_VERSION_RE = re.compile(
    r"(?i)nsight[-_ ]?systems(?:\s+version)?[-_ /\\]+(?P<v>20\d\d\.\d+(?:\.\d+){0,3})"
)
_OLD_TITLES: list[tuple[re.Pattern[str], str, str | None]] = [
    (re.compile(r"CUDA API Statistics(?: \(nanoseconds\)|:)"), reports.API, None),
    (re.compile(r"CUDA Kernel Statistics(?: \(nanoseconds\)|:)"), reports.KERNELS, None),
    (
        re.compile(r"CUDA Memory Operation Statistics(?: \(nanoseconds\)| \(by time\):)"),
        reports.MEM_TIME,
        None,
    ),
    (
        re.compile(r"CUDA Memory Operation Statistics(?: \(KiB\)| \(by size in KiB\):)"),
        reports.MEM_SIZE,
        "KiB",
    ),
    (
        re.compile(r"CUDA Memory Operation Statistics \(by size(?: in MB)?\):"),
        reports.MEM_SIZE,
        "MB",
    ),
]
# Any other section title of the 2019–2021 layouts ("Operating System Runtime API
# Statistics:", "NVTX Push-Pop Range Statistics (nanoseconds)", "... Trace:").
_OTHER_OLD_TITLE_RE = re.compile(r"^[A-Z][\w &/,.+-]{0,80}?(?:Statistics|Trace)(?: \([^()]*\))?:?$")


def report_of(name: str) -> str:
    """A report name as printed (``cudaapisum``, ``cuda_api_sum``) -> ours or ``OTHER``."""
    key = name.strip().lower()
    if key == KERNEL_GB:
        return KERNEL_GB
    try:
        return reports.canonical_report_name(key)
    except ValueError:
        return OTHER


def _is_new_name(name: str) -> bool:
    return "_" in name  # cuda_api_sum, osrt_sum … ; the 2020–2022 names have none


def _skip_reason(rest: str) -> str:
    match = re.search(r"(?:^|\s)(does not contain .*)$", rest)
    return (match[1] if match else rest).strip()


def find_version(line: str) -> str | None:
    """The nsys version in an install path or a version line, e.g. ``2025.1.3``."""
    match = _VERSION_RE.search(line)
    return match["v"] if match else None


def parse_marker(line: str) -> list[Marker]:
    """The markers on one line (a ``Running [...]... SKIPPED: ...`` line holds two).

    >>> [m.report for m in parse_marker(" ** CUDA GPU Kernel Summary (gpukernsum):")]
    ['cuda_gpu_kern_sum']
    """
    text = line.strip()
    if not text:
        return []
    found: list[Marker] = []
    match = _PROCESSING_RE.match(text)
    if match:
        script = match["script"] or match["body"]
        script_match = re.search(r"([^/\\\s]+)\.py\b", script)
        if script_match:
            name = script_match[1]
            found.append(
                Marker(
                    "report",
                    report_of(name),
                    version=find_version(script),
                    new_names=_is_new_name(name),
                )
            )
    else:
        match = _EXECUTING_RE.match(text)
        if match:
            name = match["report"].split(":")[0]
            found.append(Marker("report", report_of(name), new_names=_is_new_name(name)))
        else:
            match = _TITLE_RE.match(text)
            if match:
                opt = (match["opt"] or "").strip().lower()
                found.append(
                    Marker(
                        "report",
                        report_of(match["report"]),
                        naming=opt if opt in ("base", "mangled") else None,
                        new_names=_is_new_name(match["report"]),
                    )
                )
            else:
                for pattern, report, unit in _OLD_TITLES:
                    if pattern.fullmatch(text):
                        found.append(Marker("report", report, size_unit=unit))
                        break
                else:
                    if not text.startswith("Generating") and _OTHER_OLD_TITLE_RE.match(text):
                        found.append(Marker("report", OTHER))
    skipped = _SKIPPED_RE.search(text)
    if skipped and (text.startswith(("SKIPPED", "ERROR")) or found):
        reason = _skip_reason(skipped["rest"])
        if reason:
            found.append(Marker("skipped", skip_reason=reason))
    elif not found and text.startswith("NOTICE:"):
        found.append(Marker("notice"))
    if "NVIDIA Nsight Systems version" in text and not found:
        found.append(Marker("notice", version=find_version(text)))
    return found


def is_nsys_marker(marker: Marker) -> bool:
    """A line only nsys prints: a report title/Processing/Executing line or a SKIPPED reason.

    The generic 2020 titles ("... Statistics:") and other SKIPPED lines could be prose.
    """
    if marker.kind == "skipped":
        return (marker.skip_reason or "").startswith("does not contain")
    return marker.kind == "report" and (marker.report != OTHER or marker.new_names is not None)


def report_for_skip(reason: str, taken: Iterable[str]) -> str | None:
    """The report a SKIPPED line is about when no title says it, from nsys's reason."""
    lowered = reason.lower()
    if "cuda trace data" in lowered:
        return reports.API
    if "cuda kernel data" in lowered:
        return reports.KERNELS
    if "gpu memory data" in lowered:
        done = set(taken)
        for report in (reports.MEM_TIME, reports.MEM_SIZE):
            if report not in done:
                return report
    return None
