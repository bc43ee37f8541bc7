"""Pure functions that build the command lines of a capture and describe its configs.

Everything here is a list of strings in, a list or dict out: no processes, no files.
Commands are argument lists, never shell strings (nothing goes through a shell).
"""

from __future__ import annotations

import re
from pathlib import Path

from llamaprof.capture.config import Variant
from llamaprof.errors import ConfigError
from llamaprof.nsys import GRAPH_NODES_OPTION
from llamaprof.policy import LOOPBACK
from llamaprof.server_args import args_texts, difference_labels, parse_server_args

__all__ = [
    "GRAPH_NODES_OPTION",
    "NO_CONTEXT_SWITCH_OPTION",
    "NO_SAMPLING_OPTION",
    "TRACE_OPTION",
    "build_nsys_command",
    "build_server_command",
    "check_server_args",
    "config_labels",
    "nsys_profile_options",
    "parse_server_args",  # re-exported: the capture records server args with it
    "slug",
]

#: What nsys traces unless the user gives -t/--trace: CUDA, NVTX and OS runtime calls, the
#: data llamaprof reads.
TRACE_OPTION = "--trace=cuda,nvtx,osrt"
#: No CPU sampling and no CPU context-switch tracing unless the user gives -s/--sample
#: (which then sets the context switches too) or --cpuctxsw: llamaprof reads neither, both
#: add overhead to the server being measured (perf events on every core), and with either
#: one nsys 2022.4 (Debian's) hung after its target exited in about half the runs measured
#: here, on a busy 2-core machine, and never with both off (README, "nsys that never ends").
NO_SAMPLING_OPTION = "--sample=none"
NO_CONTEXT_SWITCH_OPTION = "--cpuctxsw=none"

# Flags the capture sets itself: the model is a setting, host and port are always loopback
# and chosen by the capture.
_OWNED_SERVER_FLAGS = {
    "-m": "the model is a setting (--model)",
    "--model": "the model is a setting (--model)",
    "--host": "the server always listens on 127.0.0.1",
    "--port": "the capture chooses the port (--port)",
}
_OWNED_NSYS_FLAGS = {"-o", "--output"}


def _flag_name(token: str) -> str:
    return token.split("=", 1)[0] if token.startswith("--") else token


def check_server_args(args: list[str] | tuple[str, ...]) -> None:
    """Raise ConfigError if ``args`` sets what the capture owns (model, host, port)."""
    for token in args:
        reason = _OWNED_SERVER_FLAGS.get(_flag_name(token))
        if reason:
            raise ConfigError(f"remove {token} from the server args: {reason}")


def build_server_command(
    server: str, model: str, args: list[str] | tuple[str, ...], port: int
) -> list[str]:
    """The llama-server command line: model, the user's args, then loopback host and port.

    >>> build_server_command("llama-server", "m.gguf", ["-fa", "on"], 8001)
    ['llama-server', '-m', 'm.gguf', '-fa', 'on', '--host', '127.0.0.1', '--port', '8001']
    """
    check_server_args(args)
    return [server, "-m", model, *args, "--host", LOOPBACK, "--port", str(port)]


def nsys_profile_options(
    user_options: list[str] | tuple[str, ...] = (), cuda_graph_nodes: bool = False
) -> list[str]:
    """The ``nsys profile`` options: the user's, plus each default they did not override.

    >>> nsys_profile_options()
    ['--trace=cuda,nvtx,osrt', '--sample=none', '--cpuctxsw=none']
    >>> nsys_profile_options(["-t", "cuda"], cuda_graph_nodes=True)
    ['--sample=none', '--cpuctxsw=none', '-t', 'cuda', '--cuda-graph-trace=node']
    >>> nsys_profile_options(["-s", "process-tree"])
    ['--trace=cuda,nvtx,osrt', '-s', 'process-tree']
    >>> nsys_profile_options(["--sample=none"])
    ['--trace=cuda,nvtx,osrt', '--cpuctxsw=none', '--sample=none']
    """
    names = {_flag_name(t) for t in user_options}
    if names & _OWNED_NSYS_FLAGS:
        raise ConfigError("remove -o/--output from the nsys options: the run name sets it")
    given_graph = "--cuda-graph-trace" in names
    if cuda_graph_nodes and given_graph:
        raise ConfigError("--cuda-graph-trace is in the nsys options; drop the node switch")
    defaults = []
    if not names & {"-t", "--trace"}:
        defaults.append(TRACE_OPTION)
    sample = _option_value(user_options, {"-s", "--sample"})
    if sample is None:
        defaults.append(NO_SAMPLING_OPTION)
    # Sampling on sets --cpuctxsw to the same value (nsys's rule); sampling off leaves
    # context switches traced unless they are switched off too.
    if sample in (None, "none") and "--cpuctxsw" not in names:
        defaults.append(NO_CONTEXT_SWITCH_OPTION)
    options = [*defaults, *user_options]
    if cuda_graph_nodes:
        options.append(GRAPH_NODES_OPTION)
    return options


def _option_value(options: list[str] | tuple[str, ...], flags: set[str]) -> str | None:
    """The value the last of ``flags`` gets in ``options`` (``--opt=v`` or ``-o v``), or
    None when none of them is given.

    >>> _option_value(["-s", "none", "--sample=process-tree"], {"-s", "--sample"})
    'process-tree'
    """
    value = None
    for i, token in enumerate(options):
        name, sep, given = token.partition("=")
        if name in flags:
            value = given if sep else (options[i + 1] if i + 1 < len(options) else "")
    return value


def build_nsys_command(
    nsys: str, output: Path | str, options: list[str], server_command: list[str]
) -> list[str]:
    """``nsys profile -o OUTPUT OPTIONS... SERVER_COMMAND...``.

    ``output`` is the report path without ``.nsys-rep`` (nsys adds it).

    >>> build_nsys_command("nsys", "r/a", ["--trace=cuda"], ["llama-server", "-m", "m"])
    ['nsys', 'profile', '-o', 'r/a', '--trace=cuda', 'llama-server', '-m', 'm']
    """
    return [nsys, "profile", "-o", str(output), *options, *server_command]


def _texts(variant: Variant, shared_env: dict[str, str]) -> dict[str, str]:
    """{key: text} that describe a config: environment first, then flags."""
    env = {**shared_env, **variant.env_dict}
    texts = {f"env:{k}": f"{k}={v}" for k, v in env.items()}
    texts.update(args_texts(parse_server_args(variant.args)))
    return texts


def config_labels(variants: list[Variant], shared_env: dict[str, str] | None = None) -> list[str]:
    """A label per config: what differs between them (all of it for a single config).

    >>> config_labels([Variant(("-fa", "on", "-ngl", "99")), Variant(("-fa", "off", "-ngl", "99"))])
    ['-fa on', '-fa off']
    >>> config_labels([Variant(("-ngl", "99"), (("GGML_CUDA_DISABLE_GRAPHS", "1"),))])
    ['GGML_CUDA_DISABLE_GRAPHS=1 -ngl 99']
    >>> config_labels([Variant()])
    ['defaults']
    """
    described = [_texts(v, shared_env or {}) for v in variants]

    def whole(texts: dict[str, str]) -> str:
        return " ".join(texts.values()) or "defaults"

    if len(variants) > 1:
        labels = [label or "defaults" for label in difference_labels(described)]
    else:
        labels = [whole(d) for d in described]
    if len(set(labels)) < len(labels):  # the same config twice: all of it, numbered
        labels = [f"{whole(d)} #{i + 1}" for i, d in enumerate(described)]
    return labels


def slug(text: str, limit: int = 60) -> str:
    """A file-name-safe form of a label.

    >>> slug("-fa on -ctk q8_0"), slug("GGML_CUDA_DISABLE_GRAPHS=1"), slug("")
    ('fa-on_ctk-q8_0', 'GGML_CUDA_DISABLE_GRAPHS-1', 'defaults')
    """
    words = [re.sub(r"[^A-Za-z0-9_.]+", "-", w).strip("-.") for w in re.split(r"\s+-", text)]
    out = "_".join(w for w in words if w)[:limit].strip("-_.")
    return out or "defaults"
