"""Converters between :class:`~tinynlp.layers.MultiHeadAttention` (Keras' layout) and
``torch.nn.MultiheadAttention``'s weights.

Keras (and tinynlp) keep one kernel per projection with the heads as an axis::

    query/kernel (E_q, H, d),  key/kernel (E_k, H, d),  value/kernel (E_v, H, d)
    attention_output/kernel (H, d, E),  biases (H, d) and (E,)

PyTorch stores the projections as (out, in) matrices with the heads
flattened, ``W x`` instead of ``x W``::

    in_proj_weight (3E, E) = [W_q; W_k; W_v]   (or q_proj_weight (E, E),
                                                 k_proj_weight (E, E_k), v_proj_weight (E, E_v)
                                                 when kdim / vdim differ from E)
    in_proj_bias (3E,),  out_proj.weight (E, E),  out_proj.bias (E,)

so, with E = H·d:  W_q(torch) = query/kernelᵀ reshaped (H·d, E_q), and
attention_output/kernel = out_proj.weightᵀ reshaped (H, d, E).  PyTorch's
layer needs E_q = E = the output size and equal key and value head sizes.

The keys of :func:`mha_weights_to_torch`'s dict are PyTorch's ``state_dict``
names, so ``torch_mha.load_state_dict({k: torch.tensor(v) for k, v in d.items()})``
loads them (mind PyTorch's masks: there True means *masked*, the opposite
of ``F.scaled_dot_product_attention``'s bool mask).
"""

from __future__ import annotations

import numpy as np

__all__ = ["mha_weights_from_torch", "mha_weights_to_torch"]


def _np(a):
    """An ndarray from an ndarray, a tinynlp Tensor or a torch tensor (torch not imported)."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(getattr(a, "data", a) if not isinstance(a, np.ndarray) else a)


def mha_weights_to_torch(weights) -> dict:
    """tinynlp/Keras MultiHeadAttention weights → ``torch.nn.MultiheadAttention`` state dict.

    ``weights``: the layer, or its ``get_weights()`` list (8 arrays, or 4
    with ``use_bias=False``).  Returns ndarrays keyed by PyTorch's names
    (``in_proj_weight`` when the key and value inputs have the query's size,
    else ``q_proj_weight`` / ``k_proj_weight`` / ``v_proj_weight``).
    """
    if hasattr(weights, "get_weights"):
        weights = weights.get_weights()
    ws = [_np(w) for w in weights]
    if len(ws) == 8:
        wq, bq, wk, bk, wv, bv, wo, bo = ws
    elif len(ws) == 4:
        wq, wk, wv, wo = ws
        bq = bk = bv = bo = None
    else:
        raise ValueError(f"mha_weights_to_torch: expected the 8 (or 4 without biases) weights "
                         f"of a MultiHeadAttention, got {len(ws)} arrays")
    if wq.ndim != 3 or wk.ndim != 3 or wv.ndim != 3 or wo.ndim != 3:
        raise ValueError("mha_weights_to_torch: expected kernels (E_q, H, d), (E_k, H, d), "
                         "(E_v, H, d) and (H, d, E) (a multi-axis output_shape has no PyTorch "
                         f"equivalent); got {[w.shape for w in (wq, wk, wv, wo)]}")
    Eq, H, d = wq.shape
    E = H * d
    if wk.shape[1:] != (H, d) or wv.shape[1:] != (H, d):
        raise ValueError(f"mha_weights_to_torch: PyTorch needs equal key and value head sizes; "
                         f"got query/key kernels (·, H, d) = {wq.shape[1:]}, {wk.shape[1:]} and "
                         f"value kernel {wv.shape}")
    if Eq != E or wo.shape != (H, d, E):
        raise ValueError(f"mha_weights_to_torch: PyTorch needs query features = output size = "
                         f"num_heads·key_dim = {E}; got query kernel {wq.shape} and output "
                         f"kernel {wo.shape}")
    out = {}
    to_rows = lambda w: np.ascontiguousarray(w.reshape(w.shape[0], E).T)
    if wk.shape[0] == E and wv.shape[0] == E:
        out["in_proj_weight"] = np.concatenate([to_rows(wq), to_rows(wk), to_rows(wv)])
    else:
        out["q_proj_weight"] = to_rows(wq)
        out["k_proj_weight"] = to_rows(wk)
        out["v_proj_weight"] = to_rows(wv)
    if bq is not None:
        out["in_proj_bias"] = np.concatenate([bq.reshape(E), bk.reshape(E), bv.reshape(E)])
    out["out_proj.weight"] = np.ascontiguousarray(wo.reshape(E, E).T)
    if bo is not None:
        out["out_proj.bias"] = bo.reshape(E).copy()
    return out


def mha_weights_from_torch(state_dict, num_heads) -> list:
    """``torch.nn.MultiheadAttention`` state dict (or the module) → the weight list for
    ``MultiHeadAttention(num_heads, key_dim=E // num_heads).set_weights``."""
    if hasattr(state_dict, "state_dict"):
        state_dict = state_dict.state_dict()
    sd = {k: _np(v) for k, v in dict(state_dict).items()}
    if "bias_k" in sd or "bias_v" in sd:
        raise ValueError("mha_weights_from_torch: add_bias_kv=True has no Keras equivalent")
    if "in_proj_weight" in sd:
        w = sd["in_proj_weight"]
        if w.ndim != 2 or w.shape[0] != 3 * w.shape[1]:
            raise ValueError(f"mha_weights_from_torch: in_proj_weight must be (3E, E), got "
                             f"{w.shape}")
        E = w.shape[1]
        wq, wk, wv = w[:E], w[E:2 * E], w[2 * E:]
    else:
        try:
            wq, wk, wv = sd["q_proj_weight"], sd["k_proj_weight"], sd["v_proj_weight"]
        except KeyError:
            raise ValueError("mha_weights_from_torch: expected in_proj_weight or "
                             f"q/k/v_proj_weight in the state dict, got keys {sorted(sd)}") \
                from None
        E = wq.shape[0]
    if isinstance(num_heads, bool) or not isinstance(num_heads, (int, np.integer)) \
            or num_heads < 1 or E % num_heads:
        raise ValueError(f"mha_weights_from_torch: num_heads must be a positive divisor of "
                         f"embed_dim = {E}, got {num_heads!r}")
    H, d = int(num_heads), E // int(num_heads)
    kernel = lambda w: np.ascontiguousarray(w.T).reshape(w.shape[1], H, d)
    wo = sd["out_proj.weight"]
    if wo.shape != (E, E):
        raise ValueError(f"mha_weights_from_torch: out_proj.weight must be (E, E) = {(E, E)}, "
                         f"got {wo.shape}")
    wo_k = np.ascontiguousarray(wo.T).reshape(H, d, E)
    if "in_proj_bias" not in sd:
        return [kernel(wq), kernel(wk), kernel(wv), wo_k]
    b = sd["in_proj_bias"]
    bo = sd.get("out_proj.bias", np.zeros(E, dtype=b.dtype))
    return [kernel(wq), b[:E].reshape(H, d).copy(), kernel(wk), b[E:2 * E].reshape(H, d).copy(),
            kernel(wv), b[2 * E:].reshape(H, d).copy(), wo_k, np.asarray(bo).copy()]
