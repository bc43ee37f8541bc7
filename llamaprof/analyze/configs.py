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

__all__ = ["config_diff", "newest_set", "setting_label", "settings_labels"]


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


def newest_set(records: Mapping[str, CaptureRecord | None]) -> list[str]:
    """The keys of the newest A/B set's runs (the highest ``set_id``, a capture's time stamp
    ``YYYYMMDD-HHMMSS``), in capture order: by config, then by repeat; [] when no set has two
    configs or more. What a comparison opens on by default in a folder of captures, so that
    a set compares config against config rather than two repeats of one.

    >>> from llamaprof.record import parse_record
    >>> def rec(set_id, config, repeat):
    ...     return parse_record({"schema": 2, "set": {"id": set_id, "config_index": config},
    ...                          "repeat": {"group": f"{set_id}/{config}", "index": repeat}}, "r")
    >>> newest_set({"off1": rec("20261205-1", 1, 1), "on2": rec("20261205-1", 0, 2),
    ...             "on1": rec("20261205-1", 0, 1), "old": rec("20261204-9", 0, 1), "x": None})
    ['on1', 'on2', 'off1']
    """
    sets: dict[str, list[tuple[int, str, int, str]]] = {}
    for key, record in records.items():
        if record is not None and record.set_id is not None:
            # schema-1 records name no config index: their group (one per config) orders them
            config = -1 if record.config_index is None else record.config_index
            order = (config, record.group, record.repeat_index or 0, key)
            sets.setdefault(record.set_id, []).append(order)
    for set_id in sorted(sets, reverse=True):
        runs = sorted(sets[set_id])
        if len({group for _, group, _, _ in runs}) >= 2:
            return [key for _, _, _, key in runs]
    return []
