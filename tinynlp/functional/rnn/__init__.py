"""Recurrent ops: Elman RNN, LSTM and GRU over a whole sequence.

One module per cell (:mod:`.elman_cell`, :mod:`.lstm_cell`, :mod:`.gru_cell`),
each holding the cell twice:

* ``elman_rnn`` / ``lstm`` / ``gru`` — the fast path.  All time steps are one
  fused :class:`Function` with hand-written backpropagation through time
  (BPTT).  The input projection ``x_t W + b`` of *every* step is one GEMM
  before the loop; only the recurrence ``h_{t-1} U`` is sequential; the weight
  gradients are one GEMM each after the backward loop
  (``dW = Xᵀ·dZ``, ``dU = H_prevᵀ·dZ`` over all steps at once).  Internally the
  sequence is time-major (``(T, B, ·)``) so every step reads and writes a
  contiguous slab of preallocated buffers; nothing is allocated per step.
  The elementwise gate math of one LSTM / GRU step is a one-pass Numba kernel
  (:mod:`tinynlp.kernels.rnn`); ``tanh`` stays NumPy's vectorised ufunc, and
  sigmoids are computed as σ(z) = ½ + ½·tanh(z/2) (halving is exact).
  When no gradient can be asked for (``no_grad``, or no input requires one)
  the op runs its inference path: the same forward, nothing kept for BPTT.
* ``elman_rnn_reference`` / ``lstm_reference`` / ``gru_reference`` — the
  readable twin: a plain Python loop over time of primitive autograd ops, the
  code a student reads.  The tests assert the two agree in value and in every
  gradient.

What the fused ops share (scratch buffers, the time-major layout, the mask)
is in :mod:`.workspace`; argument checks in :mod:`.checks`; the converters to
and from PyTorch's weight layouts in :mod:`.torch_layout`.

Shapes (Keras layout, weights stored ``(in, out)``)::

    x  (B, T, D)   batch, time, features        h0, c0  (B, H) or None (zeros)
    W  (D, G·H)    input kernel                 U       (H, G·H) recurrent kernel
    b  (G·H,)      bias  — GRU: (2, 3H) = [input bias; recurrent bias]
    G = 1 (Elman), 4 (LSTM: gates i, f, c, o), 3 (GRU: gates z, r, h)

Masks.  ``mask`` is a ``(B, T)`` boolean array (True = a real token, False =
padding; see :func:`lengths_to_mask`).  At a padded step the state is carried
over unchanged (``h_t = h_{t−1}``, and ``c_t = c_{t−1}`` for the LSTM), so the
step receives no gradient and the final state is the state after the last
real token — whether the padding is at the end ('post') or at the start
('pre', Keras' ``pad_sequences`` default).  **The output at a padded step is
zero** (as PyTorch's packed sequences give), for all three cells.  (Keras
instead repeats the carried state at masked steps; masked steps should be
ignored downstream either way.)  A sequence with no real token at all
(length 0) gives all-zero outputs and returns ``h0`` (and ``c0``) as its
final state; the gradient passes straight through to them.  The fused ops,
training and inference paths alike, zero the padded inputs before anything
reads them (:func:`.workspace.time_major`), so whatever sits there — even
NaN — changes nothing; the reference twins compute and then discard them.

The ``hs`` output of a fused op may be a view of a buffer its backward pass
reads: do not modify it in place (as with any autograd output).
"""

from .common import lengths_to_mask
from .elman_cell import elman_rnn, elman_rnn_reference
from .gru_cell import gru, gru_reference
from .embedding_lstm import lstm_lookup
from .lstm_cell import lstm, lstm_reference
from .torch_layout import (
    gru_weights_from_torch, gru_weights_to_torch, lstm_weights_from_torch, lstm_weights_to_torch,
    rnn_weights_from_torch, rnn_weights_to_torch,
)

__all__ = [
    "elman_rnn", "elman_rnn_reference",
    "lstm", "lstm_lookup", "lstm_reference",
    "gru", "gru_reference",
    "lengths_to_mask",
    "rnn_weights_to_torch", "rnn_weights_from_torch",
    "lstm_weights_to_torch", "lstm_weights_from_torch",
    "gru_weights_to_torch", "gru_weights_from_torch",
]
