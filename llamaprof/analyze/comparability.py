"""Why runs may not be comparable: different GPUs, nsys versions, models or workloads; CUDA
graphs traced at graph level; ``GGML_CUDA_DISABLE_GRAPHS`` in some runs only; prompt-cache hits.

Kept streamlit-free. Values llamaprof chose itself (port, host, output names, its own nsys
options) are never among the reasons: they are not in a record's settings or facts.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from llamaprof import reports
from llamaprof.analyze.cuda_calls import is_graph_launch
from llamaprof.model import Run
from llamaprof.nsys import GRAPH_NODES_OPTION
from llamaprof.record import CaptureRecord

__all__ = ["ComparabilityWarning", "comparability_warnings"]


@dataclass(frozen=True)
class ComparabilityWarning:
    """Why two runs may not be comparable: a ``kind`` key and a one-line ``message``."""

    kind: str  # gpu | nsys | model | workload | cuda-graphs | graphs-env | prompt-cache | window
    message: str
    labels: tuple[str, ...] = field(default=())


def _gpu(run: Run | None, record: CaptureRecord | None) -> str | None:
    if run is not None and run.info.gpus:
        return ", ".join(run.info.gpus)
    if record is not None and record.facts.get("gpu"):
        return record.facts["gpu"]
    return None


def _nsys(run: Run | None, record: CaptureRecord | None) -> str | None:
    if run is not None and run.info.nsys_version:
        return run.info.nsys_version
    return record.facts.get("nsys") if record is not None else None


def same_release(a: str, b: str) -> bool:
    """True when two nsys version texts name one release as far as both go: a stats text
    says ``2022.4.2`` where the export of the same run says ``2022.4.2.1``.

    >>> same_release("2022.4.2.1", "2022.4.2"), same_release("2022.4.2", "2022.4.1.21")
    (True, False)
    """
    parts_a, parts_b = a.split("."), b.split(".")
    common = min(len(parts_a), len(parts_b))
    return parts_a[:common] == parts_b[:common]


def _model(record: CaptureRecord | None) -> str | None:
    if record is None or "model" not in record.facts:
        return None
    name = record.facts["model"].replace("\\", "/").rsplit("/", 1)[-1]
    size = record.facts.get("model size")
    return f"{name} ({int(size):,} bytes)" if size and size.isdigit() else name or None


def _differs(
    kind: str,
    what: str,
    values: dict[str, str | None],
    same: Callable[[str, str], bool] = str.__eq__,
) -> ComparabilityWarning | None:
    """A warning listing ``values`` when two of them are not alike (``same``)."""
    known = {label: v for label, v in values.items() if v is not None}
    texts = list(dict.fromkeys(known.values()))
    if all(same(a, b) for a, b in itertools.combinations(texts, 2)):
        return None
    listing = "; ".join(f"{label}: {value}" for label, value in known.items())
    return ComparabilityWarning(kind, f"Different {what}: {listing}.", tuple(known))


def _graph_launches(run: Run | None) -> int:
    """How many cudaGraphLaunch calls the run's API summary holds (0 if none or no summary)."""
    api = run.summary(reports.API) if run is not None else None
    if api is None or api.empty:
        return 0
    mask = api["name"].astype(str).map(is_graph_launch).astype(bool)
    return int(api.loc[mask, "count"].sum())


def _node_level(run: Run | None, record: CaptureRecord | None) -> bool:
    """True if CUDA graphs were traced per node: the export says so (kernels with a
    ``graphNodeId``), else the record's nsys command.

    Only the recorded ``nsys profile`` argv counts, as ``--cuda-graph-trace=node`` or as the
    two tokens ``--cuda-graph-trace node``: a prompt or a log that mentions the option does not.
    """
    if run is not None and run.info.graph_nodes_traced:
        return True
    tokens = record.nsys_command if record is not None else []
    return GRAPH_NODES_OPTION in tokens or any(
        a == "--cuda-graph-trace" and b == "node" for a, b in itertools.pairwise(tokens)
    )


def _graphs_disabled(record: CaptureRecord) -> bool:
    return record.env.get("GGML_CUDA_DISABLE_GRAPHS", "").strip() not in ("", "0")


def _cache_hits(record: CaptureRecord) -> tuple[int, int, int]:
    """(prompt tokens served from cache, requests with a hit, requests) from the timings."""
    hits = [r.cached_tokens for r in record.requests]
    tokens = sum(hits)
    if not tokens:  # a record may keep only its totals
        cached = record.totals.get("cached_tokens")
        tokens = int(cached) if isinstance(cached, int | float) and cached > 0 else 0
    return tokens, sum(1 for h in hits if h > 0), len(record.requests)


def comparability_warnings(
    runs: Mapping[str, Run | None], records: Mapping[str, CaptureRecord | None]
) -> list[ComparabilityWarning]:
    """Reasons the runs may not be comparable, one warning per reason, in a fixed order.

    ``runs`` and ``records`` are keyed by the same labels (either may be None). GPU and nsys
    version come from the report itself where it has them, else from the record; model and
    workload only from records. The checks:

    - ``gpu``, ``nsys``, ``model``, ``workload``: the runs that know it disagree;
    - ``cuda-graphs``: a run launched CUDA graphs (``cudaGraphLaunch`` in its API summary)
      without node-level tracing, so the kernels inside the graphs are not in its kernel
      summary;
    - ``graphs-env``: ``GGML_CUDA_DISABLE_GRAPHS`` is set in some runs only;
    - ``prompt-cache``: a run's requests took prompt tokens from llama-server's cache
      (``timings.cache_n`` > 0), so its prompt processing is shorter than a cold run's.
    """
    labels = list(dict.fromkeys([*runs, *records]))
    run = {label: runs.get(label) for label in labels}
    rec = {label: records.get(label) for label in labels}
    warnings = [
        _differs("gpu", "GPUs", {lb: _gpu(run[lb], rec[lb]) for lb in labels}),
        _differs(
            "nsys",
            "nsys versions",
            {lb: _nsys(run[lb], rec[lb]) for lb in labels},
            same=same_release,
        ),
        _differs("model", "models", {lb: _model(rec[lb]) for lb in labels}),
        _differs(
            "workload",
            "workloads",
            {lb: rec[lb].facts.get("workload") if rec[lb] else None for lb in labels},  # type: ignore[union-attr]
        ),
    ]
    out = [w for w in warnings if w is not None]
    for label in labels:
        launches = _graph_launches(run[label])
        if launches and not _node_level(run[label], rec[label]):
            out.append(
                ComparabilityWarning(
                    "cuda-graphs",
                    f"{label}: {launches:,} cudaGraphLaunch calls, traced at graph level: the "
                    "kernels inside the graphs are missing from its kernel summary (capture with "
                    "--cuda-graph-trace=node or GGML_CUDA_DISABLE_GRAPHS=1).",
                    (label,),
                )
            )
    with_record = {label: r for label, r in rec.items() if r is not None}
    disabled = [label for label, r in with_record.items() if _graphs_disabled(r)]
    if disabled and len(disabled) < len(with_record):
        enabled = [label for label in with_record if label not in disabled]
        out.append(
            ComparabilityWarning(
                "graphs-env",
                f"GGML_CUDA_DISABLE_GRAPHS is set in {', '.join(disabled)} only, not in "
                f"{', '.join(enabled)}: one side runs CUDA graphs, the other plain launches.",
                tuple(disabled),
            )
        )
    for label, record in with_record.items():
        tokens, hit, total = _cache_hits(record)
        if tokens:
            where = f" in {hit} of {total} requests" if hit else ""
            out.append(
                ComparabilityWarning(
                    "prompt-cache",
                    f"{label}: {tokens:,} prompt tokens came from the prompt cache{where} "
                    "(timings.cache_n); its prompt processing is shorter than a cold run's "
                    "(send cache_prompt: false).",
                    (label,),
                )
            )
    return out
