"""The GGUF header reader (llamaprof.gguf) against files the ``gguf`` package writes.

Expected numbers come from ``gguf.GGUFReader`` (an independent reader) and, for the
MoE-shaped file, from the shapes it was written with.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest

from llamaprof.gguf import TYPE_SIZES, model_weights, read_header
from llamaprof.record import ModelWeights

Q = gguf.GGMLQuantizationType
N_EXPERT, N_USED, N_EMBD, N_FF, N_VOCAB = 4, 2, 64, 32, 96


def test_type_table_matches_the_gguf_package():
    """Every ggml type the gguf package knows has the same block size and bytes per block
    (and name) in llamaprof's table, and the table has no type the package lacks."""
    package = {t.value: (t.name, *sizes) for t, sizes in gguf.GGML_QUANT_SIZES.items()}
    # One known difference: the package still lists Q8_1 as 40 bytes (float d and s, the
    # layout before 2023); ggml's block_q8_1 holds two fp16 and asserts 36 bytes
    # (ggml-common.h). Q8_1 is a scratch format of the dot products, not one of weights.
    assert package.pop(Q.Q8_1.value) == ("Q8_1", 32, 40)
    ours = dict(TYPE_SIZES)
    assert ours.pop(Q.Q8_1.value) == ("Q8_1", 32, 36)
    assert ours == package


def _raw(rng: np.random.Generator, qtype: Q, shape: tuple[int, ...]) -> np.ndarray:
    """Random bytes shaped as a ``qtype`` tensor of ``shape`` (numpy order) is stored."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    return rng.integers(0, 256, (*shape[:-1], shape[-1] // block * size), dtype=np.uint8)


def write_moe_model(path: Path, *, big_endian: bool = False, split: bool = False) -> list[Path]:
    """An MoE-shaped GGUF: quantized expert tensors (``*_exps``), a shared expert
    (``*_shexp``), no ``output.weight`` (tied), alignment 64. Returns the files written."""
    rng = np.random.default_rng(1)
    endian = gguf.GGUFEndian.BIG if big_endian else gguf.GGUFEndian.LITTLE
    w = gguf.GGUFWriter(path, "qwen3moe", endianess=endian, split_max_tensors=5 if split else 0)
    w.add_custom_alignment(64)
    w.add_block_count(1)
    w.add_embedding_length(N_EMBD)
    w.add_expert_count(N_EXPERT)
    w.add_expert_used_count(N_USED)
    w.add_token_list([f"t{i}" for i in range(N_VOCAB)])  # an array longer than the kept ones
    w.add_tensor("token_embd.weight", _raw(rng, Q.Q8_0, (N_VOCAB, N_EMBD)), raw_dtype=Q.Q8_0)
    w.add_tensor("blk.0.attn_norm.weight", np.ones(N_EMBD, np.float32))
    w.add_tensor("blk.0.attn_q.weight", np.ones((N_EMBD, N_EMBD), np.float16))
    for name, shape in (("gate", (N_FF, N_EMBD)), ("up", (N_FF, N_EMBD)), ("down", (N_EMBD, N_FF))):
        raw = _raw(rng, Q.Q4_0, (N_EXPERT, *shape))
        w.add_tensor(f"blk.0.ffn_{name}_exps.weight", raw, raw_dtype=Q.Q4_0)
    w.add_tensor("blk.0.ffn_gate_inp.weight", np.ones((N_EXPERT, N_EMBD), np.float32))
    w.add_tensor("blk.0.ffn_up_shexp.weight", _raw(rng, Q.Q4_K, (N_FF, 256)), raw_dtype=Q.Q4_K)
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    if not split:
        return [path]
    return sorted(path.parent.glob(f"{path.stem}-*-of-*.gguf"))


def expected_weights(paths: list[Path]) -> ModelWeights:
    """What model_weights must say, from gguf.GGUFReader's own tensor sizes."""
    readers = [gguf.GGUFReader(p) for p in paths]
    tensors = [t for r in readers for t in r.tensors]
    size = {t.name: int(t.n_bytes) for t in tensors}
    fields = readers[0].fields
    arch = fields["general.architecture"].contents()

    def number(key: str) -> int | None:
        return int(fields[key].contents()) if key in fields else None

    return ModelWeights(
        tensor_bytes=sum(size.values()),
        token_embd_bytes=size.get("token_embd.weight", 0),
        output_tied="output.weight" not in size,
        expert_tensor_bytes=sum(v for k, v in size.items() if "_exps" in k),
        expert_count=number(f"{arch}.expert_count"),
        expert_used_count=number(f"{arch}.expert_used_count"),
        architecture=arch,
    )


def test_tiny_model(tiny_model):
    """The tiny llama model llama-server runs in the capture tests."""
    reader = gguf.GGUFReader(tiny_model)
    header = read_header(tiny_model)
    assert (header.version, header.byte_order, header.alignment) == (3, "little", 32)
    assert header.data_start == reader.data_offset
    assert [(t.name, t.shape, t.ggml_type, t.offset, t.n_bytes) for t in header.tensors] == [
        (
            t.name,
            tuple(int(d) for d in t.shape),
            int(t.tensor_type),
            int(t.data_offset) - reader.data_offset,
            int(t.n_bytes),
        )
        for t in reader.tensors
    ]
    assert header.metadata["llama.embedding_length"] == 64
    assert header.metadata["tokenizer.ggml.model"] == "llama"
    assert "tokenizer.ggml.tokens" not in header.metadata  # 600-odd items: left out
    weights, note = model_weights(tiny_model)
    assert note is None
    assert weights == expected_weights([tiny_model])
    assert (weights.output_tied, weights.expert_tensor_bytes, weights.expert_count) == (
        False,
        0,
        None,
    )
    # Every tensor is F32: 4 bytes per element.
    assert weights.tensor_bytes == 4 * sum(int(t.n_elements) for t in reader.tensors)


@pytest.mark.parametrize("big_endian", [False, True], ids=["little-endian", "big-endian"])
def test_moe_model(tmp_path, big_endian):
    """Quantized expert tensors, expert counts, a tied output, alignment 64, both byte orders."""
    path = tmp_path / "moe.gguf"
    write_moe_model(path, big_endian=big_endian)
    header = read_header(path)
    assert (header.byte_order, header.alignment) == ("big" if big_endian else "little", 64)
    assert header.data_start == gguf.GGUFReader(path).data_offset
    assert header.data_start % 64 == 0
    weights, note = model_weights(path)
    assert note is None
    assert weights == expected_weights([path])
    # By hand: Q4_0 is 18 bytes per 32 elements, Q8_0 34 per 32, Q4_K 144 per 256.
    experts = 3 * N_EXPERT * N_FF * N_EMBD // 32 * 18
    embd = N_VOCAB * N_EMBD // 32 * 34
    others = 4 * N_EMBD + 2 * N_EMBD * N_EMBD + 4 * N_EXPERT * N_EMBD + N_FF * 144 + 4 * N_EMBD
    assert weights == ModelWeights(
        tensor_bytes=experts + embd + others,
        token_embd_bytes=embd,
        output_tied=True,
        expert_tensor_bytes=experts,
        expert_count=N_EXPERT,
        expert_used_count=N_USED,
        architecture="qwen3moe",
    )
    # Tied: the embedding is read as the output head; half the experts are used.
    assert weights.decode_bytes == experts + embd + others - experts // 2


def test_split_model(tmp_path):
    """A model in several files (llama-gguf-split): every file's tensors count, the metadata
    comes from the first; a missing file is named."""
    paths = write_moe_model(tmp_path / "moe.gguf", split=True)
    assert [p.name for p in paths] == ["moe-00001-of-00002.gguf", "moe-00002-of-00002.gguf"]
    whole, note = model_weights(paths[0])
    assert note is None
    assert whole == expected_weights(paths)
    assert whole == model_weights(write_moe_model(tmp_path / "one.gguf")[0])[0]
    assert model_weights(paths[1]) == (whole, None)  # given the second file, same answer
    paths[1].unlink()
    assert model_weights(paths[0]) == (
        None,
        "model weights unknown: moe-00002-of-00002.gguf: cannot read the model file: "
        "No such file or directory",
    )


def _tensor_type_position(path: Path, index: int) -> int:
    """Where tensor ``index``'s ggml type (u32) is in the file, from gguf.GGUFReader."""
    field = gguf.GGUFReader(path).tensors[index].field
    # parts: name length, name, dimension count, dimensions, type, offset
    return field.offset + sum(p.nbytes for p in field.parts[:4])


def test_unknown_tensor_type_is_sized_by_offsets(tmp_path, tiny_model):
    """A type newer than the table: its size is the distance to the next tensor, and the
    note says so. The tiny model's F32 tensors are multiples of 32 bytes: no padding, so
    the total stays exact."""
    path = tmp_path / "newer.gguf"
    data = bytearray(tiny_model.read_bytes())
    position = _tensor_type_position(tiny_model, 1)
    assert data[position : position + 4] == (0).to_bytes(4, "little")  # F32
    data[position : position + 4] = (99).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    weights, note = model_weights(path)
    assert weights == expected_weights([tiny_model])
    assert note == (
        "model weights: tensors of a ggml type llamaprof does not know (99): 1 of 21, sized "
        "by the distance between data offsets (padding included)"
    )


def _cut_copy(tiny_model: Path, tmp_path: Path, keep: int) -> Path:
    path = tmp_path / "cut.gguf"
    path.write_bytes(tiny_model.read_bytes()[:keep])
    return path


@pytest.mark.parametrize(
    ("keep", "reason"),
    [
        (-1, "truncated GGUF file: {size} bytes, its tensor data needs {whole}"),
        (-200_000, "truncated GGUF file: {size} bytes, its tensor data needs {whole}"),
        (2000, "truncated GGUF file: the header runs past its end (2000 bytes)"),
        (10, "truncated GGUF file: 10 bytes, no room for a header"),
        (3, "not a GGUF file (it does not start with GGUF)"),
        (0, "not a GGUF file (it does not start with GGUF)"),
    ],
    ids=["last-byte", "mid-data", "mid-header", "10-bytes", "3-bytes", "empty"],
)
def test_truncated_file(tmp_path, tiny_model, keep, reason):
    """A cut file: no weights, one line that says why."""
    whole = tiny_model.stat().st_size
    path = _cut_copy(tiny_model, tmp_path, keep if keep >= 0 else whole + keep)
    size = path.stat().st_size
    expected = f"model weights unknown: cut.gguf: {reason.format(size=size, whole=whole)}"
    assert model_weights(path) == (None, expected)


def test_other_files(tmp_path, tiny_model):
    """Not GGUF, missing, a folder, GGUF version 1 or a newer one, a bad alignment."""
    text = tmp_path / "model.txt"
    text.write_text("not a model at all\n" * 10)
    data = tiny_model.read_bytes()
    v1, v4 = tmp_path / "v1.gguf", tmp_path / "v4.gguf"
    v1.write_bytes(data[:4] + (1).to_bytes(4, "little") + data[8:])
    v4.write_bytes(data[:4] + (4).to_bytes(4, "little") + data[8:])
    assert model_weights(text) == (
        None,
        "model weights unknown: model.txt: not a GGUF file (it does not start with GGUF)",
    )
    assert model_weights(tmp_path / "none.gguf") == (
        None,
        "model weights unknown: none.gguf: cannot read the model file: No such file or directory",
    )
    assert model_weights(tmp_path) == (
        None,
        f"model weights unknown: {tmp_path.name}: cannot read the model file: Is a directory",
    )
    for path, version in ((v1, 1), (v4, 4)):
        assert model_weights(path) == (
            None,
            f"model weights unknown: {path.name}: GGUF version {version} is not supported "
            "(llamaprof reads versions 2 and 3)",
        )
