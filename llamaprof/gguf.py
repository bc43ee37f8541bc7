"""A GGUF file's header, read without the ``gguf`` package: metadata and tensor infos.

Only the header is read (through ``mmap``: nothing is copied but what is parsed), never
the tensor data; a 40 GB model costs what its vocabulary costs to walk. Versions 2 and 3,
either byte order (as ggml writes them). ``model_weights`` sums the tensors' bytes into the
capture record's ``ModelWeights``.

Layout (ggml's ``gguf.cpp``): ``GGUF``, version (u32), tensor count (u64), key/value count
(u64); each key/value: key (u64 length + UTF-8), value type (u32), value; each tensor info:
name, dimension count (u32), dimensions (u64 each, fastest-varying first), ggml type (u32),
data offset (u64, from the start of the data section); then padding to ``general.alignment``
(32 unless set) and the data section.

A tensor's size comes from its type's block size and bytes per block (``TYPE_SIZES``):
exact, and independent of how the data section is laid out. Its distance to the next
tensor's offset cannot give the size exactly (it includes up to ``alignment - 1`` bytes of
padding that nothing in the file measures), so the offsets serve to check the table's sizes
(a tensor whose data runs past the next one or past the file's end means a truncated or
broken file) and, for a type newer than the table, as the size: an upper bound within the
padding, which ``model_weights`` says in its note.
"""

from __future__ import annotations

import math
import mmap
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llamaprof.errors import ReportParseError
from llamaprof.record import ModelWeights

__all__ = [
    "DEFAULT_ALIGNMENT",
    "TYPE_SIZES",
    "GGUFHeader",
    "TensorInfo",
    "model_weights",
    "read_header",
]

MAGIC = b"GGUF"
VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
#: ggml allows this many dimensions (GGML_MAX_DIMS).
MAX_DIMS = 4
#: Arrays up to this many items are kept in ``GGUFHeader.metadata``; longer ones (the
#: vocabulary, merges, scores) are walked over and left out.
KEPT_ARRAY_ITEMS = 256

QK_K = 256  # elements per super-block of the k-quants and i-quants
#: ggml type id -> (name, elements per block, bytes per block), from the block structs of
#: ggml-common.h (``d`` and ``m`` scales are fp16: 2 bytes). Checked in the tests against
#: the ``gguf`` package's GGML_QUANT_SIZES, not copied from it.
TYPE_SIZES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 2 + 32 // 2),  # d, 32 nibbles
    3: ("Q4_1", 32, 2 + 2 + 32 // 2),  # d, m, nibbles
    6: ("Q5_0", 32, 2 + 4 + 32 // 2),  # d, 32 high bits, nibbles
    7: ("Q5_1", 32, 2 + 2 + 4 + 32 // 2),
    8: ("Q8_0", 32, 2 + 32),
    9: ("Q8_1", 32, 2 + 2 + 32),  # d, s, bytes
    10: ("Q2_K", QK_K, 2 + 2 + QK_K // 16 + QK_K // 4),  # d, dmin, scales, 2-bit quants
    11: ("Q3_K", QK_K, 2 + QK_K // 4 + QK_K // 8 + 12),  # d, quants, high bits, scales
    12: ("Q4_K", QK_K, 2 + 2 + 12 + QK_K // 2),
    13: ("Q5_K", QK_K, 2 + 2 + 12 + QK_K // 8 + QK_K // 2),
    14: ("Q6_K", QK_K, 2 + QK_K // 2 + QK_K // 4 + QK_K // 16),
    15: ("Q8_K", QK_K, 4 + QK_K + QK_K // 16 * 2),  # float d, bytes, int16 block sums
    16: ("IQ2_XXS", QK_K, 2 + QK_K // 8 * 2),
    17: ("IQ2_XS", QK_K, 2 + QK_K // 8 * 2 + QK_K // 32),
    18: ("IQ3_XXS", QK_K, 2 + 3 * QK_K // 8),
    19: ("IQ1_S", QK_K, 2 + QK_K // 8 + QK_K // 32 * 2),
    20: ("IQ4_NL", 32, 2 + 32 // 2),
    21: ("IQ3_S", QK_K, 2 + QK_K // 4 + QK_K // 8 + QK_K // 32 + 4),
    22: ("IQ2_S", QK_K, 2 + QK_K // 4 + QK_K // 32 + QK_K // 32),
    23: ("IQ4_XS", QK_K, 2 + 2 + QK_K // 64 + QK_K // 2),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", QK_K, QK_K // 8 + QK_K // 16 + QK_K // 32),  # scales live in the bits
    30: ("BF16", 1, 2),
    34: ("TQ1_0", QK_K, (QK_K - 4 * QK_K // 64) // 5 + QK_K // 64 + 2),  # base-3 trits, d
    35: ("TQ2_0", QK_K, QK_K // 4 + 2),
    39: ("MXFP4", 32, 1 + 32 // 2),  # e8m0 scale, fp4 nibbles
    40: ("NVFP4", 64, 64 // 16 + 64 // 2),  # an fp8 scale per 16, fp4 nibbles
    41: ("Q1_0", 128, 2 + 128 // 8),  # d, one bit each
}

# GGUF value types: id -> struct format of a scalar (8 is a string, 9 an array).
_SCALARS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of the header. ``n_bytes``: its data's size (see the module docstring);
    ``sized_by_offsets``: its type is not in ``TYPE_SIZES``, so the size is the distance
    to the next tensor's data (padding included)."""

    name: str
    shape: tuple[int, ...]  # fastest-varying dimension first, as GGUF stores it
    ggml_type: int
    offset: int  # from the start of the data section
    n_bytes: int
    sized_by_offsets: bool = False

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class GGUFHeader:
    """A GGUF file's header. ``metadata``: key -> value (numbers, booleans, strings;
    arrays of up to ``KEPT_ARRAY_ITEMS`` items as tuples, longer ones left out)."""

    path: Path
    version: int
    byte_order: str  # "little" or "big"
    metadata: dict[str, Any]
    tensors: tuple[TensorInfo, ...]
    alignment: int
    data_start: int  # where the data section begins, in bytes from the file's start
    file_size: int

    @property
    def architecture(self) -> str | None:
        arch = self.metadata.get("general.architecture")
        return arch if isinstance(arch, str) else None


class _Truncated(Exception):
    """The header runs past the end of the file."""


class _Reader:
    """Sequential reads from the mapped file; every read checks the file's end."""

    def __init__(self, buf: mmap.mmap, endian: str) -> None:
        self.buf = buf
        self.size = len(buf)
        self.pos = 0
        self.endian = endian
        self._u64 = struct.Struct(endian + "Q")
        self._u32 = struct.Struct(endian + "I")

    def need(self, n: int) -> None:
        if n < 0 or self.pos + n > self.size:
            raise _Truncated

    def u32(self) -> int:
        self.need(4)
        (value,) = self._u32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return value

    def u64(self) -> int:
        self.need(8)
        (value,) = self._u64.unpack_from(self.buf, self.pos)
        self.pos += 8
        return value

    def string(self) -> str:
        n = self.u64()
        self.need(n)
        data = self.buf[self.pos : self.pos + n]
        self.pos += n
        return data.decode("utf-8", "replace")

    def skip_string(self) -> None:
        n = self.u64()
        self.need(n)
        self.pos += n

    def scalar(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        self.need(size)
        (value,) = struct.unpack_from(self.endian + fmt, self.buf, self.pos)
        self.pos += size
        return value


class _BadHeader(Exception):
    """The header is complete but says something impossible (a one-line reason)."""


def _value(r: _Reader, value_type: int, key: str) -> Any:
    """Read one value; returns it, or None for an array too long to keep."""
    if value_type in _SCALARS:
        return r.scalar(_SCALARS[value_type])
    if value_type == _STRING:
        return r.string()
    if value_type != _ARRAY:
        raise _BadHeader(f"metadata {key!r} has an unknown value type {value_type}")
    item_type = r.u32()
    count = r.u64()
    keep = count <= KEPT_ARRAY_ITEMS
    if item_type in _SCALARS:
        fmt = _SCALARS[item_type]
        size = struct.calcsize(fmt) * count
        r.need(size)
        if keep:
            items = struct.unpack_from(f"{r.endian}{count}{fmt}", r.buf, r.pos)
        r.pos += size
        return tuple(items) if keep else None
    if item_type == _STRING:
        if keep:
            return tuple(r.string() for _ in range(count))
        for _ in range(count):
            r.skip_string()
        return None
    raise _BadHeader(f"metadata {key!r} is an array of an unsupported type {item_type}")


def read_header(path: str | Path) -> GGUFHeader:
    """The header of the GGUF file at ``path``.

    Raises ReportParseError (one line) for a file that cannot be read, is not GGUF, is of
    another version than 2 or 3, or whose header or tensor data is cut short.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
            if magic != MAGIC:
                raise ReportParseError(path, "not a GGUF file (it does not start with GGUF)")
            f.seek(0, 2)
            size = f.tell()
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _parse(path, buf, size)
    except OSError as exc:
        raise ReportParseError(path, f"cannot read the model file: {exc.strerror or exc}") from None
    except ValueError as exc:  # mmap of something that is not a regular file
        raise ReportParseError(path, f"cannot read the model file: {exc}") from None


def _parse(path: Path, buf: mmap.mmap, size: int) -> GGUFHeader:
    if size < 4 + 4 + 8 + 8:
        raise ReportParseError(path, f"truncated GGUF file: {size} bytes, no room for a header")
    (version,) = struct.unpack_from("<I", buf, 4)
    endian, order = "<", "little"
    if version & 0xFFFF == 0 and version:  # a big-endian file (ggml's rule too)
        endian, order = ">", "big"
        (version,) = struct.unpack_from(">I", buf, 4)
    if version not in VERSIONS:
        raise ReportParseError(
            path, f"GGUF version {version} is not supported (llamaprof reads versions 2 and 3)"
        )
    r = _Reader(buf, endian)
    r.pos = 8
    try:
        n_tensors = r.u64()
        n_kv = r.u64()
        metadata: dict[str, Any] = {}
        for _ in range(n_kv):
            key = r.string()
            value = _value(r, r.u32(), key)
            if value is not None:
                metadata[key] = value
        raw = []
        for _ in range(n_tensors):
            name = r.string()
            n_dims = r.u32()
            if n_dims > MAX_DIMS:
                raise _BadHeader(f"tensor {name!r} has {n_dims} dimensions (ggml allows 4)")
            shape = tuple(r.u64() for _ in range(n_dims))
            raw.append((name, shape, r.u32(), r.u64()))
    except _Truncated:
        raise ReportParseError(
            path, f"truncated GGUF file: the header runs past its end ({size} bytes)"
        ) from None
    except _BadHeader as exc:
        raise ReportParseError(path, f"not a valid GGUF header: {exc}") from None
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise ReportParseError(path, f"not a valid GGUF header: alignment {alignment!r}")
    data_start = -(-r.pos // alignment) * alignment
    tensors = _sized(path, raw, data_start, size)
    return GGUFHeader(path, version, order, metadata, tensors, alignment, data_start, size)


def _sized(
    path: Path, raw: list[tuple[str, tuple[int, ...], int, int]], data_start: int, size: int
) -> tuple[TensorInfo, ...]:
    """Each tensor with its size (see the module docstring), checked against the layout."""
    sized: list[tuple[str, tuple[int, ...], int, int, int | None]] = []
    for name, shape, ggml_type, offset in raw:
        known = TYPE_SIZES.get(ggml_type)
        if known is None:
            sized.append((name, shape, ggml_type, offset, None))
            continue
        type_name, block, block_bytes = known
        n_elements = math.prod(shape)
        if n_elements % block:
            raise ReportParseError(
                path,
                f"not a valid GGUF header: {name!r} has {n_elements} elements, not a "
                f"multiple of the {block} of a {type_name} block",
            )
        sized.append((name, shape, ggml_type, offset, n_elements // block * block_bytes))
    # An unknown type needs at least one byte.
    needed = data_start + max((t[3] + (t[4] or 1) for t in sized), default=0)
    if needed > size:
        raise ReportParseError(
            path, f"truncated GGUF file: {size} bytes, its tensor data needs {needed}"
        )
    data_size = size - data_start
    ends = sorted({t[3] for t in sized} | {data_size})
    next_offset = {offset: ends[i + 1] for i, offset in enumerate(ends[:-1])}
    tensors = []
    for name, shape, ggml_type, offset, n_bytes in sized:
        room = next_offset[offset] - offset
        if n_bytes is None:
            tensors.append(TensorInfo(name, shape, ggml_type, offset, room, True))
            continue
        if n_bytes > room:
            raise ReportParseError(
                path, f"broken GGUF file: the data of {name!r} runs into the next tensor's"
            )
        tensors.append(TensorInfo(name, shape, ggml_type, offset, n_bytes))
    return tuple(tensors)


# --- the capture record's model.weights ----------------------------------------------------

# llama.cpp's split files: <prefix>-00001-of-00003.gguf (``llama_split_path``).
_SPLIT_NAME = re.compile(r"^(?P<prefix>.*)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$")


def _shards(header: GGUFHeader) -> list[Path]:
    """The files of a model split by ``llama-gguf-split`` (just this one when not split)."""
    count = header.metadata.get("split.count")
    if not isinstance(count, int) or count <= 1:
        return [header.path]
    match = _SPLIT_NAME.match(header.path.name)
    if match is None or int(match["count"]) != count:
        raise ReportParseError(
            header.path,
            f"split into {count} files, but its name is not <prefix>-NNNNN-of-{count:05d}.gguf",
        )
    return [
        header.path.with_name(f"{match['prefix']}-{no:05d}-of-{count:05d}.gguf")
        for no in range(1, count + 1)
    ]


def model_weights(path: str | Path) -> tuple[ModelWeights | None, str | None]:
    """What the GGUF header of the model at ``path`` says about its weights, and a note.

    ``ModelWeights``: ``tensor_bytes`` (every tensor, over every file of a split model),
    ``token_embd_bytes`` (``token_embd.weight``), ``output_tied`` (no ``output.weight``),
    ``expert_tensor_bytes`` (tensors named ``*_exps*``), ``expert_count`` and
    ``expert_used_count`` (``<arch>.expert_count``, ``<arch>.expert_used_count``),
    ``architecture``. The note is one line for the record's ``problems``: why the weights
    are None (a file that is not GGUF, truncated, a missing split file), or that some
    tensors' types were unknown and their sizes taken from the data offsets; else None.
    Never raises for what the file holds.
    """
    try:
        given = read_header(path)
        headers = [given if p == given.path else read_header(p) for p in _shards(given)]
    except ReportParseError as exc:
        return None, f"model weights unknown: {exc}"
    first = headers[0]  # the metadata is in the first file of a split model
    tensors = [t for h in headers for t in h.tensors]
    names = {t.name for t in tensors}
    arch = first.architecture
    weights = ModelWeights(
        tensor_bytes=sum(t.n_bytes for t in tensors),
        token_embd_bytes=sum(t.n_bytes for t in tensors if t.name == "token_embd.weight"),
        output_tied="output.weight" not in names,
        expert_tensor_bytes=sum(t.n_bytes for t in tensors if "_exps" in t.name),
        expert_count=_count(first.metadata.get(f"{arch}.expert_count")),
        expert_used_count=_count(first.metadata.get(f"{arch}.expert_used_count")),
        architecture=arch,
    )
    guessed = sorted({t.ggml_type for t in tensors if t.sized_by_offsets})
    note = None
    if guessed:
        n = sum(t.sized_by_offsets for t in tensors)
        types = ", ".join(str(t) for t in guessed)
        note = (
            f"model weights: tensors of a ggml type llamaprof does not know ({types}): "
            f"{n} of {len(tensors)}, sized by the distance between data offsets "
            "(padding included)"
        )
    return weights, note


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
