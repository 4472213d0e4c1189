"""Converters between tinynlp's (Keras') recurrent weight layouts and PyTorch's.

Keras stores ``W (D, G·H)``, ``U (H, G·H)`` and one bias; PyTorch stores
``weight_ih (G·H, D)``, ``weight_hh (G·H, H)`` and two biases, and orders the
GRU's gates differently (r, z, n instead of z, r, h).  These are not ops: the
parity tests and anyone loading PyTorch weights use them.  Each accepts tinynlp
Tensors, ndarrays or PyTorch tensors (torch is never imported here).
"""

from __future__ import annotations

import numpy as np

from ...autograd.tensor import to_numpy

__all__ = ["rnn_weights_to_torch", "rnn_weights_from_torch", "lstm_weights_to_torch",
           "lstm_weights_from_torch", "gru_weights_to_torch", "gru_weights_from_torch"]


def _bias_or_zeros(bias, n, dtype):
    return np.zeros(n, dtype=dtype) if bias is None else to_numpy(bias)


def _transposed_to_torch(W, U, b):
    """(Wᵀ, Uᵀ, b, 0): Keras' (in, out) weights in PyTorch's (out, in) layout, one bias."""
    W, U, b = to_numpy(W), to_numpy(U), to_numpy(b)
    return (np.ascontiguousarray(W.T), np.ascontiguousarray(U.T), b.copy(), np.zeros_like(b))


def _from_torch_weights(op, w_ih, w_hh, gates):
    """``(w_ih, w_hh, H)``: PyTorch's (G·H, D) and (G·H, H) weights as ndarrays, checked."""
    w_ih, w_hh = to_numpy(w_ih), to_numpy(w_hh)
    H = w_hh.shape[-1]
    if w_hh.shape != (gates * H, H):
        raise ValueError(f"{op}: w_hh must have shape {(gates * H, H)}, got {w_hh.shape}")
    if w_ih.ndim != 2 or w_ih.shape[0] != gates * H:
        g = "" if gates == 1 else gates
        raise ValueError(f"{op}: w_ih must have shape ({g}H, D) with H={H}, got {w_ih.shape}")
    return w_ih, w_hh, H


def rnn_weights_to_torch(W, U, b):
    """tinynlp/Keras Elman weights → ``torch.nn.RNN``'s
    ``(weight_ih_l0 (H, D), weight_hh_l0 (H, H), bias_ih_l0 (H,), bias_hh_l0 (H,))``.

    PyTorch stores (out, in) and has two biases; we put all of ``b`` into
    ``bias_ih`` and zeros into ``bias_hh`` (only their sum matters).
    """
    return _transposed_to_torch(W, U, b)


def rnn_weights_from_torch(w_ih, w_hh, b_ih=None, b_hh=None):
    """``torch.nn.RNN`` weights (H, D), (H, H), (H,), (H,) → ``(W (D, H), U (H, H), b (H,))``
    with ``b = b_ih + b_hh``.  Biases may be None (``bias=False``)."""
    w_ih, w_hh, H = _from_torch_weights("rnn_weights_from_torch", w_ih, w_hh, 1)
    b = _bias_or_zeros(b_ih, H, w_ih.dtype) + _bias_or_zeros(b_hh, H, w_ih.dtype)
    return np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T), b


def lstm_weights_to_torch(W, U, b):
    """tinynlp/Keras LSTM weights → ``torch.nn.LSTM``'s
    ``(weight_ih (4H, D), weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,))``.

    Gate order: Keras columns i, f, c, o; PyTorch rows i, f, g, o — the same
    blocks (c ≡ g, the cell candidate), so this is a transpose; ``bias_hh`` = 0.
    """
    return _transposed_to_torch(W, U, b)


def lstm_weights_from_torch(w_ih, w_hh, b_ih=None, b_hh=None):
    """``torch.nn.LSTM`` weights (rows i, f, g, o) → ``(W (D, 4H), U (H, 4H), b (4H,))``
    in Keras' column order i, f, c, o (the same order), ``b = b_ih + b_hh``."""
    w_ih, w_hh, H = _from_torch_weights("lstm_weights_from_torch", w_ih, w_hh, 4)
    b = _bias_or_zeros(b_ih, 4 * H, w_ih.dtype) + _bias_or_zeros(b_hh, 4 * H, w_ih.dtype)
    return np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T), b


def _swap_first_two_blocks(a, H, axis):
    """Reorder gate blocks (A, B, C) → (B, A, C) along ``axis``: r,z,n ↔ z,r,h."""
    idx = np.concatenate([np.arange(H, 2 * H), np.arange(0, H), np.arange(2 * H, 3 * H)])
    return np.ascontiguousarray(np.take(a, idx, axis=axis))


def gru_weights_to_torch(W, U, b):
    """tinynlp/Keras GRU weights → ``torch.nn.GRU``'s
    ``(weight_ih (3H, D), weight_hh (3H, H), bias_ih (3H,), bias_hh (3H,))``.

    Gate order differs: Keras columns **z, r, h**; PyTorch rows **r, z, n** —
    the first two blocks are swapped.  ``b[0]`` (input bias) → ``bias_ih``,
    ``b[1]`` (recurrent bias) → ``bias_hh``; both formulations are
    reset_after (PyTorch: n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))).
    """
    W, U, b = to_numpy(W), to_numpy(U), to_numpy(b)
    H = U.shape[0]
    return (_swap_first_two_blocks(W.T, H, 0), _swap_first_two_blocks(U.T, H, 0),
            _swap_first_two_blocks(b[0], H, 0), _swap_first_two_blocks(b[1], H, 0))


def gru_weights_from_torch(w_ih, w_hh, b_ih=None, b_hh=None):
    """``torch.nn.GRU`` weights (rows r, z, n) → ``(W (D, 3H), U (H, 3H), b (2, 3H))``
    in Keras' column order z, r, h; ``b = [b_ih; b_hh]`` (reordered the same way)."""
    w_ih, w_hh, H = _from_torch_weights("gru_weights_from_torch", w_ih, w_hh, 3)
    b = np.stack([_bias_or_zeros(b_ih, 3 * H, w_ih.dtype),
                  _bias_or_zeros(b_hh, 3 * H, w_ih.dtype)])
    return (_swap_first_two_blocks(w_ih, H, 0).T.copy(),
            _swap_first_two_blocks(w_hh, H, 0).T.copy(),
            _swap_first_two_blocks(b, H, 1))
