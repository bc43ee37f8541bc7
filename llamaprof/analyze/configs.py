"""What differs between the configs of runs: the settings table and labels built from it.

A capture record's ``settings`` are what the user chose (``arg -fa`` -> ``on``, ``env
GGML_CUDA_DISABLE_GRAPHS`` -> ``1``), never what llamaprof chose itself (model path, host,
port, output names, its own nsys options: ``llamaprof.record``); its ``facts`` are what the
run ran on (model, GPU, workload, versions). Kept streamlit-free.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from llamaprof.record import FLAG_SET, CaptureRecord
from llamaprof.server_args import difference_labels

__all__ = ["config_diff", "setting_label", "settings_labels"]


def _flat(record: CaptureRecord | None) -> dict[str, str]:
    """Settings, then facts, as one ``{setting: text}``; {} without a record."""
    if record is None:
        return {}
    return {**record.settings, **record.facts}


def config_diff(records: Mapping[str, CaptureRecord | None]) -> pd.DataFrame:
    """Settings and facts of several runs side by side.

    Columns: ``setting`` (``arg -fa``, ``env GGML_CUDA_DISABLE_GRAPHS``, ``model``, ``gpu``,
    ``workload``, ``llama-server``, ``nsys``...), one column per run label (the value as
    text; ``""`` where the run does not set it, or has no record), and ``differs`` (bool: the
    runs that have a record do not all have the same text). Rows: in the order first seen,
    settings that differ first.
    """
    flats = {label: _flat(record) for label, record in records.items()}
    settings: list[str] = []
    for flat in flats.values():
        settings.extend(key for key in flat if key not in settings)
    known = [label for label, flat in flats.items() if flat]  # no record: nothing to differ
    rows = []
    for setting in settings:
        compared = {flats[label].get(setting, "") for label in known}
        rows.append(
            {
                "setting": setting,
                **{label: flat.get(setting, "") for label, flat in flats.items()},
                "differs": len(compared) > 1,
            }
        )
    frame = pd.DataFrame(rows, columns=["setting", *flats, "differs"])
    if frame.empty:
        return frame.astype({"differs": "bool"})
    frame = frame.sort_values("differs", ascending=False, kind="stable").reset_index(drop=True)
    return frame.astype({"differs": "bool"})


def setting_label(key: str, value: str) -> str | None:
    """How a setting reads in a label: ``-fa on``, ``--metrics``, ``NAME=value``; None for
    facts (model, GPU, versions: in the config table, not in labels).

    >>> setting_label("arg -fa", "on"), setting_label("arg --metrics", "(set)")
    ('-fa on', '--metrics')
    >>> setting_label("env GGML_CUDA_DISABLE_GRAPHS", "1"), setting_label("model", "m.gguf")
    ('GGML_CUDA_DISABLE_GRAPHS=1', None)
    """
    kind, _, name = key.partition(" ")
    if kind == "arg":
        return name if value == FLAG_SET else f"{name} {value}"
    if kind == "env":
        return f"{name}={value}"
    return None


def settings_labels(records: Mapping[str, CaptureRecord | None]) -> dict[str, str]:
    """Per label, the text of the settings that differ between the records; "" where nothing
    differs or a run has no record.

    A setting some records lack reads ``no -fa`` (``no NAME`` for the environment) there.

    >>> from llamaprof.record import parse_record
    >>> on = parse_record({"settings": {"args": ["-fa", "on", "-ngl", "99"]}}, "a.json")
    >>> off = parse_record({"settings": {"args": ["-fa", "off", "-ngl", "99"]}}, "b.json")
    >>> settings_labels({"a": on, "b": off})
    {'a': '-fa on', 'b': '-fa off'}
    """
    known = [label for label, record in records.items() if record is not None]
    texts = []
    for label in known:
        record = records[label]
        assert record is not None
        parts = {key: setting_label(key, value) for key, value in record.settings.items()}
        texts.append({key: text for key, text in parts.items() if text is not None})
    labels = difference_labels(texts, absent=lambda key: f"no {key.split(' ', 1)[1]}")
    out = dict.fromkeys(records, "")
    out.update(zip(known, labels, strict=True))
    return out
