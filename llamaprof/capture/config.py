"""What a capture is asked to do: the server, the profiler, the workload, the A/B configs.

Plain dataclasses, validated in one place (``CaptureConfig.validate``), so the CLI and the
app build the same thing and get the same one-line errors. Kept streamlit-free.
"""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path

from llamaprof.errors import ConfigError
from llamaprof.policy import default_reports_dir  # one rule for app and CLI

#: Sent when neither a prompt text nor a prompt length is given.
DEFAULT_PROMPT = (
    "Explain, in a few short paragraphs, how a GPU runs the layers of a transformer model"
    " when it generates text one token at a time."
)

#: Environment variables that change how llama-server runs, recorded when set.
ENV_KNOB_PREFIXES = ("GGML_", "LLAMA_ARG_", "CUDA_")


def parse_env(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["KEY=VALUE", ...]`` -> dict; raises ConfigError on an item without ``=``.

    >>> parse_env(["GGML_CUDA_DISABLE_GRAPHS=1", "CUDA_VISIBLE_DEVICES=0,1"])
    {'GGML_CUDA_DISABLE_GRAPHS': '1', 'CUDA_VISIBLE_DEVICES': '0,1'}
    """
    env: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not _is_env_name(key):
            raise ConfigError(f"not an environment setting KEY=VALUE: {item!r}")
        env[key] = value
    return env


def _is_env_name(text: str) -> bool:
    return (
        bool(text)
        and (text[0].isalpha() or text[0] == "_")
        and all(c.isalnum() or c == "_" for c in text)
    )


@dataclass(frozen=True)
class Variant:
    """One config of an A/B set: server args and environment added to the shared ones."""

    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Variant:
        """Split a config the way a shell would: leading ``KEY=VALUE`` words are environment.

        >>> Variant.parse("GGML_CUDA_DISABLE_GRAPHS=1 -fa on")
        Variant(args=('-fa', 'on'), env=(('GGML_CUDA_DISABLE_GRAPHS', '1'),))
        """
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise ConfigError(f"cannot split config {text!r}: {exc}") from None
        env: list[tuple[str, str]] = []
        while words and "=" in words[0] and _is_env_name(words[0].partition("=")[0]):
            key, _, value = words.pop(0).partition("=")
            env.append((key, value))
        return cls(tuple(words), tuple(env))

    @property
    def env_dict(self) -> dict[str, str]:
        return dict(self.env)

    def text(self) -> str:
        """The config as one shell-quoted line (the inverse of ``parse``)."""
        return shlex.join([*(f"{k}={v}" for k, v in self.env), *self.args])


@dataclass(frozen=True)
class Workload:
    """The HTTP workload: ``requests`` streamed POSTs to ``/completion``, from ``concurrency``
    clients.

    The prompt is ``prompt`` (text) or ``prompt_tokens`` tokens (sent as token ids, so the
    server evaluates exactly that many); neither means ``DEFAULT_PROMPT``. Sampling is
    deterministic (temperature 0, fixed seed) and ``cache_prompt`` is off, so runs compare.
    """

    requests: int = 8
    concurrency: int = 1
    prompt: str | None = None
    prompt_tokens: int | None = None
    n_predict: int = 128
    temperature: float = 0.0
    seed: int = 42
    cache_prompt: bool = False
    ignore_eos: bool = False
    request_timeout_s: float = 600.0

    def validate(self) -> None:
        if self.requests < 1:
            raise ConfigError("the workload needs at least 1 request")
        if self.concurrency < 1:
            raise ConfigError("concurrency must be at least 1")
        if self.prompt is not None and self.prompt_tokens is not None:
            raise ConfigError("give a prompt text or a prompt length in tokens, not both")
        if self.prompt_tokens is not None and self.prompt_tokens < 1:
            raise ConfigError("the prompt length in tokens must be at least 1")
        if self.n_predict < 1:
            raise ConfigError("n_predict must be at least 1")

    def to_dict(self) -> dict:
        out = asdict(self)
        if self.prompt is None and self.prompt_tokens is None:
            out["prompt"] = DEFAULT_PROMPT
        out["endpoint"] = "/completion"
        out["stream"] = True  # every request is streamed (the first token is timed)
        return out


@dataclass
class CaptureConfig:
    """Everything one ``llamaprof capture`` needs; ``variants`` empty means one config.

    ``server_args`` and ``env`` are shared by every config; each ``Variant`` adds its own
    after them (llama-server takes the last value of a repeated flag). Each config runs
    ``repeat`` times. ``nsys`` None means "find nsys on PATH"; ``profile`` False runs the
    same workload without a profiler (tokens/s only).
    """

    server: str
    model: str
    server_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    profile: bool = True
    nsys: str | None = None
    nsys_args: list[str] = field(default_factory=list)
    cuda_graph_nodes: bool = False
    reports_dir: Path = field(default_factory=default_reports_dir)
    name: str | None = None
    port: int | None = None
    workload: Workload = field(default_factory=Workload)
    variants: list[Variant] = field(default_factory=list)
    repeat: int = 1
    health_timeout_s: float = 300.0
    stop_timeout_s: float = 30.0
    #: Seconds nsys gets to write its report once llama-server has exited, and the export
    #: to finish. None: 60 s, or as long as llama-server ran under nsys if that was longer
    #: (``capture.server.report_timeout``).
    report_timeout_s: float | None = None

    def validate(self) -> None:
        """Check what can be checked without touching the file system; raises ConfigError."""
        self.workload.validate()
        if not self.server:
            raise ConfigError("no llama-server given")
        if not self.model:
            raise ConfigError("no model given")
        if self.repeat < 1:
            raise ConfigError("repeat must be at least 1")
        if self.port is not None and not 1 <= self.port <= 65535:
            raise ConfigError(f"not a TCP port: {self.port}")
        for timeout in ("health_timeout_s", "stop_timeout_s", "report_timeout_s"):
            value = getattr(self, timeout)
            if value is not None and value <= 0:
                raise ConfigError(f"{timeout} must be positive")
        if self.name is not None and (
            not self.name.strip() or "/" in self.name or self.name.startswith(".")
        ):
            raise ConfigError(f"not a usable run name: {self.name!r}")
        if not self.profile and (self.nsys_args or self.cuda_graph_nodes):
            raise ConfigError("nsys options were given with --no-profile")
