"""Write a tiny llama GGUF (about 0.9 MB) that a real llama-server loads and answers with.

Recipe from ../shared/docs/llama-server-notes.md: llama architecture, 2 layers, n_embd 64,
2 heads, n_ff 256, context 2048, a SentencePiece-style vocabulary with the 256 byte tokens,
a ChatML template. Random weights, except that byte, control and EOS tokens are made
unsampleable: residual dimension 0 is pinned to a positive constant in every embedding,
no layer writes to it (row 0 of ``attn_output`` and ``ffn_down`` is zero), and those tokens
get a large negative weight on it in ``output.weight``. So every request returns exactly
``n_predict`` tokens of valid text, at any temperature.
"""

from __future__ import annotations

import string
from pathlib import Path

import gguf
import numpy as np

N_EMBD = 64
N_HEAD = 2
N_LAYER = 2
N_FF = 256
N_CTX = 2048

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n'"
    " }}{% endif %}"
)


_WORDS = (
    "the of and to in is it that was for on are as with his they at be this from have or by"
    " one had not but what all were when we there can an your which their said if do will"
    " each about how up out them then she many some so these would other into has more her"
    " two like him see time could no make than first been its who now people my made over"
    " did down only way find use may water long little very after words called just where"
    " most know get through back much go good new write our me man too any day same right"
    " look think also around another came come work three word must because does part even"
    " place well such here take why things help put years different away again off went old"
    " number great tell men say small every found still between name should home big give air"
    " line set own under read last never us left end along while might next sound below saw"
    " something thought both few those always looked show large often together asked house"
    " world going want school important until form food keep children feet land side without"
    " boy once animals life enough took sometimes four head above kind began almost live page"
    " got earth need far hand high year mother light parts country father let night following"
    " picture being study second eyes soon times story boys since white days paper hard near"
    " sentence better best across during today others however sure means knew its try told"
)


def _pieces() -> list[str]:
    """Normal (sampleable) pieces: letters, digits, punctuation, and short words."""
    chars = string.ascii_letters + string.digits + ".,;:!?'-()"
    words = _WORDS.split()
    pieces = ["\u2581"] + list(chars) + ["\u2581" + c for c in string.ascii_lowercase]
    pieces += ["\u2581" + w for w in dict.fromkeys(words)]
    return list(dict.fromkeys(pieces))


def write_tiny_model(path: Path, seed: int = 0) -> Path:
    """Write the tiny model to ``path`` and return it (about 20 ms)."""
    rng = np.random.default_rng(seed)
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    types += [gguf.TokenType.BYTE] * 256
    pieces = _pieces()
    tokens += pieces
    types += [gguf.TokenType.NORMAL] * len(pieces)
    scores = [0.0] * (3 + 256) + [-float(i) for i in range(len(pieces))]
    n_vocab = len(tokens)

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("llamaprof-tiny-test")
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_chat_template(CHATML)

    def rand(*shape: int, scale: float = 0.05) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    embd = rand(n_vocab, N_EMBD, scale=0.2)
    embd[:, 0] = 1.0  # the pinned dimension
    w.add_tensor("token_embd.weight", embd)
    for i in range(N_LAYER):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(N_EMBD, np.float32))
        for t in ("attn_q", "attn_k", "attn_v"):
            w.add_tensor(f"blk.{i}.{t}.weight", rand(N_EMBD, N_EMBD))
        attn_out = rand(N_EMBD, N_EMBD)
        attn_out[0, :] = 0.0  # never write the pinned dimension
        w.add_tensor(f"blk.{i}.attn_output.weight", attn_out)
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(N_EMBD, np.float32))
        w.add_tensor(f"blk.{i}.ffn_gate.weight", rand(N_FF, N_EMBD))
        w.add_tensor(f"blk.{i}.ffn_up.weight", rand(N_FF, N_EMBD))
        down = rand(N_EMBD, N_FF)
        down[0, :] = 0.0
        w.add_tensor(f"blk.{i}.ffn_down.weight", down)
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, np.float32))
    out = rand(n_vocab, N_EMBD, scale=0.5)
    out[:, 0] = 0.0
    out[: 3 + 256, 0] = -1000.0  # <unk>, <s>, </s> and byte tokens: never sampled
    w.add_tensor("output.weight", out)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


if __name__ == "__main__":
    # `python tests/fakes/tiny_model.py tiny.gguf`: the model the README's no-GPU capture uses.
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python tests/fakes/tiny_model.py OUT.gguf")
    print(write_tiny_model(Path(sys.argv[1])))
