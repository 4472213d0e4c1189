"""The Transformer benchmark models' weights in PyTorch's layout, and the character data.

tinynlp keeps KerasHub's weight order and Keras' layouts (kernels (in, out),
attention kernels with a heads axis); the PyTorch twins
(:mod:`benchmarks.torch_transformers`) use ``nn.Linear``'s (out, in) and
``nn.MultiheadAttention``'s fused ``in_proj``.  The attention weights go through
``tn.layers.mha_weights_to_torch``; everything else is a transpose.  NumPy only:
the harness process writes the bundle without importing torch.
"""

from __future__ import annotations

import numpy as np

#: the GPT's characters: newline and printable ASCII (the bundled Shakespeare has 84 of them)
ALPHABET = "\n" + "".join(chr(i) for i in range(32, 127))


def encode_chars(text: str) -> np.ndarray:
    """Character ids in :data:`ALPHABET` (any other character → the id of space)."""
    table = np.full(128, ALPHABET.index(" "), np.int64)
    for i, c in enumerate(ALPHABET):
        table[ord(c)] = i
    codes = np.frombuffer(text.encode("ascii", "replace"), np.uint8)
    return table[np.minimum(codes, 127)]


def char_windows(ids: np.ndarray, context: int, n: int, seed: int):
    """``n`` windows of ``context`` characters at random offsets, and the next characters:
    ``(x (n, context), y (n, context))`` with ``y[:, t] = ids[offset + t + 1]``."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, len(ids) - context - 1, size=n)
    idx = start[:, None] + np.arange(context)[None, :]
    return np.ascontiguousarray(ids[idx]), np.ascontiguousarray(ids[idx + 1])


def _linear(kernel, bias):
    return np.ascontiguousarray(kernel.T), bias


def _block(mha_to_torch, w, prefix, decoder: bool):
    """One block's 16 weights (KerasHub order) → PyTorch names under ``prefix``."""
    attn = mha_to_torch(w[:8])
    if decoder:     # self-attn (8), its LN (2), intermediate (2), output (2), feed-forward LN (2)
        ln1, fc1, fc2, ln2 = w[8:10], w[10:12], w[12:14], w[14:16]
        names = dict(attn_w="attn.weight", attn_b="attn.bias", out_w="proj.weight",
                     out_b="proj.bias", ln1="ln1", ln2="ln2", fc1="fc1", fc2="fc2")
    else:           # self-attn (8), its LN (2), feed-forward LN (2), intermediate (2), output (2)
        ln1, ln2, fc1, fc2 = w[8:10], w[10:12], w[12:14], w[14:16]
        names = dict(attn_w="self_attn.in_proj_weight", attn_b="self_attn.in_proj_bias",
                     out_w="self_attn.out_proj.weight", out_b="self_attn.out_proj.bias",
                     ln1="norm1", ln2="norm2", fc1="linear1", fc2="linear2")
    out = {prefix + names["attn_w"]: attn["in_proj_weight"],
           prefix + names["attn_b"]: attn["in_proj_bias"],
           prefix + names["out_w"]: attn["out_proj.weight"],
           prefix + names["out_b"]: attn["out_proj.bias"]}
    for key, (a, b) in ((names["ln1"], ln1), (names["ln2"], ln2)):
        out[f"{prefix}{key}.weight"], out[f"{prefix}{key}.bias"] = a, b
    for key, (k, b) in ((names["fc1"], fc1), (names["fc2"], fc2)):
        out[f"{prefix}{key}.weight"], out[f"{prefix}{key}.bias"] = _linear(k, b)
    return out


def transformer_torch_layout(kind: str, sizes: dict, weights: list) -> dict:
    """tinynlp weights (``get_weights()`` order) of a ``gpt`` or ``transformer_cls`` model →
    the state dict of its PyTorch twin."""
    from tinynlp.layers import mha_weights_to_torch

    w = list(weights)
    out = {"tok.weight": w.pop(0), "pos.weight": w.pop(0)}
    for i in range(sizes["layers"]):
        out.update(_block(mha_weights_to_torch, w[:16],
                          f"blocks.{i}." if kind == "gpt" else f"layers.{i}.", kind == "gpt"))
        del w[:16]
    if kind == "gpt":
        out["ln_f.weight"], out["ln_f.bias"] = w.pop(0), w.pop(0)
    else:
        out["fc.weight"], out["fc.bias"] = _linear(w.pop(0), w.pop(0))
    if w:
        raise RuntimeError(f"transformer_torch_layout: {len(w)} weights left over for {kind}")
    return out
