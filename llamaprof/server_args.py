"""llama-server command-line arguments: parse them, write them back, label configs by them.

The one parser of server args in llamaprof: the capture records what it ran with it, and the
comparison reads records back with it, so both agree on what is a flag and what is a value.
Streamlit-free and pure: lists and dicts in, lists and dicts out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

__all__ = [
    "POSITIONAL",
    "args_texts",
    "difference_labels",
    "flag_text",
    "is_flag",
    "parse_server_args",
]

#: The key of ``parse_server_args``' dict that holds tokens no flag took as its value.
POSITIONAL = "_positional"

# A dash followed by a digit or ".digit" is a negative number (``-1``, ``-0.5``, ``-.5``,
# ``-1e3``), so a value; llama-server has no flag that starts that way.
_NEGATIVE_NUMBER = re.compile(r"^-\.?\d")


def is_flag(token: str) -> bool:
    """True for a token that starts a flag (``-fa``, ``--metrics``), False for a value.

    >>> is_flag("-fa"), is_flag("--temp"), is_flag("-1"), is_flag("-0.5"), is_flag("on")
    (True, True, False, False, False)
    """
    return token.startswith("-") and not _NEGATIVE_NUMBER.match(token)


def parse_server_args(args: Sequence[str]) -> dict[str, object]:
    """Server args as a dict: flag -> value, True for a bare flag, a list when repeated.

    A token that follows a flag and is not itself a flag (negative numbers are values) is
    that flag's value; ``--key=value`` is split. Tokens no flag takes are listed under
    ``POSITIONAL``.

    >>> parse_server_args(["-ngl", "99", "-fa", "on", "--metrics", "-t", "-1", "--ctx-size=0"])
    {'-ngl': '99', '-fa': 'on', '--metrics': True, '-t': '-1', '--ctx-size': '0'}
    """
    out: dict[str, object] = {}
    positional: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        if not is_flag(token):
            positional.append(token)
            i += 1
            continue
        value: object
        if token.startswith("--") and "=" in token:
            key, value = token.split("=", 1)
            i += 1
        elif i + 1 < len(args) and not is_flag(args[i + 1]):
            key, value = token, args[i + 1]
            i += 2
        else:
            key, value = token, True
            i += 1
        if key in out:
            previous = out[key]
            out[key] = [*(previous if isinstance(previous, list) else [previous]), value]
        else:
            out[key] = value
    if positional:
        out[POSITIONAL] = positional
    return out


def flag_text(flag: str, value: object) -> str:
    """A parsed flag written back as on a command line.

    >>> flag_text("-fa", "on"), flag_text("--metrics", True), flag_text("--lora", ["a", "b"])
    ('-fa on', '--metrics', '--lora a --lora b')
    """
    if isinstance(value, list | tuple):  # a repeated flag: once per value, in order
        return " ".join(flag_text(flag, v) for v in value)
    if value is True or value is None or value == "":  # a bare flag
        return flag
    return f"{flag} {value}"


def args_texts(parsed: Mapping[str, object]) -> dict[str, str]:
    """``parse_server_args``' dict as ``{flag: "flag value"}``; positionals as themselves.

    >>> args_texts({"-fa": "on", "--metrics": True, "_positional": ["x"]})
    {'-fa': '-fa on', '--metrics': '--metrics', '_positional': 'x'}
    """
    texts: dict[str, str] = {}
    for key, value in parsed.items():
        if key == POSITIONAL:
            values = value if isinstance(value, list | tuple) else [value]
            texts[key] = " ".join(str(v) for v in values)
        else:
            texts[str(key)] = flag_text(str(key), value)
    return texts


def difference_labels(
    configs: Sequence[Mapping[str, str]],
    absent: Callable[[str], str | None] = lambda key: None,
) -> list[str]:
    """Per config (``{key: text}``), the texts of the keys whose text differs between configs.

    Keys are taken in the order first seen over all configs; a config lacking a key that
    differs shows ``absent(key)`` there (nothing when it returns None). ``""`` where
    nothing differs (always so for a single config).

    >>> difference_labels([{"-fa": "-fa on", "-ngl": "-ngl 99"}, {"-ngl": "-ngl 99"}],
    ...                   absent=lambda key: f"no {key}")
    ['-fa on', 'no -fa']
    """
    keys = list(dict.fromkeys(key for config in configs for key in config))
    differing = [key for key in keys if len({config.get(key) for config in configs}) > 1]
    labels = []
    for config in configs:
        parts = [config[key] if key in config else absent(key) for key in differing]
        labels.append(" ".join(part for part in parts if part))
    return labels
