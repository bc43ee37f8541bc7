"""What ``nvidia-smi`` says about this machine's GPUs, before and during a capture.

nsys records CUDA work only where an NVIDIA driver runs. Debian's ``nsight-systems`` package
installs an ``nvidia-smi`` even on machines without one (it then fails with status 9,
"couldn't communicate with the NVIDIA driver"), so its presence proves nothing: only its
answer does. A capture without a driver is still allowed (llama-server runs on the CPU and
nsys traces it), but the user is told first that its report will hold no CUDA data.
"""

from __future__ import annotations

import shutil
import subprocess

_QUERY = "--query-gpu=index,name,memory.total,driver_version,pci.bus_id"
_FIELDS = ("index", "name", "memory_total", "driver", "bus_id")


def _run_smi(smi: str, timeout_s: float) -> subprocess.CompletedProcess | str:
    """nvidia-smi's answer to the GPU query, or why it gave none (one line)."""
    try:
        return subprocess.run(
            [smi, _QUERY, "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return f"nvidia-smi did not answer within {timeout_s:g} s"
    except OSError as exc:
        return f"nvidia-smi cannot run: {exc.strerror or exc}"


def gpu_info(timeout_s: float = 30) -> list[dict] | None:
    """The GPUs ``nvidia-smi`` lists (index, name, memory, driver, bus id), or None when it
    is missing or fails (no driver)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    done = _run_smi(smi, timeout_s)
    if isinstance(done, str) or done.returncode != 0:
        return None
    gpus = []
    for line in done.stdout.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == len(_FIELDS):
            gpus.append(dict(zip(_FIELDS, parts, strict=True)))
    return gpus


def _first_sentence(text: str, limit: int = 120) -> str:
    """The first sentence of the first non-empty line, at most ``limit`` characters."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    sentence = line.split(". ", 1)[0].rstrip(".")
    return sentence if len(sentence) <= limit else sentence[: limit - 1] + "…"


def no_cuda_reason(timeout_s: float = 10) -> str | None:
    """Why nsys will record no CUDA data here (one line), or None when a driver answers
    and lists at least one GPU: ``no NVIDIA driver answers (nvidia-smi failed with status 9:
    NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver)``.
    """
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return "no NVIDIA driver answers (nvidia-smi is not on PATH)"
    done = _run_smi(smi, timeout_s)
    if isinstance(done, str):
        return f"no NVIDIA driver answers ({done})"
    if done.returncode != 0:
        said = _first_sentence(done.stdout + "\n" + done.stderr)
        return f"no NVIDIA driver answers (nvidia-smi failed with status {done.returncode}" + (
            f": {said})" if said else ")"
        )
    if not any(line.strip() for line in done.stdout.splitlines()):
        return "nvidia-smi lists no GPU"
    return None
