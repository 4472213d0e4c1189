"""An Embedding and the layer after it as one op.

The layer after an Embedding starts by multiplying rows of the table: x[b, t] = table[ids[b, t]],
so x[b, t] · W = (table · W)[ids[b, t]].  Made once for the batch's distinct ids, those
products replace the layer's own (:func:`~tinynlp.functional.lstm_lookup`, in training
and at inference; :func:`~tinynlp.functional.conv1d_lookup`, at inference).
``Sequential`` asks :func:`looks_up` for each Embedding and the layer after it, and then
calls that layer's ``call_on_lookup(embedding, ids, training, mask)``, which equals
``layer(embedding(ids), training, mask)``.
"""

from __future__ import annotations

from ..autograd import is_grad_enabled
from .convolutional import Conv1D
from .core import Embedding
from .recurrent import LSTM, RNNBase
from .wrappers import Bidirectional

__all__ = ["looks_up"]


def looks_up(embedding, layer, training=False) -> bool:
    """Whether ``layer(embedding(ids))`` may run as ``layer.call_on_lookup(embedding,
    ids)``: a built Embedding, then a built

    - LSTM, or ``Bidirectional`` of two (in training only without dropout: it would
      drop entries of the embedding's output), or
    - Conv1D when nothing needs a gradient (not training, grad mode off);

    each of a class that runs as theirs do (a subclass that changes ``call``, or the
    LSTM's ``_run`` — a quantized layer, an adapter — takes the usual path).  Other
    pairs are the layer class's own say: a ``reads_lookup(embedding, training)`` method
    defined on the class itself (a subclass inherits no such promise; the quantized
    Conv1D has one)."""
    if not (embedding.built and layer.built):
        return False
    own = type(layer).__dict__.get("reads_lookup")
    if own is not None:
        return bool(own(layer, embedding, training))
    if type(embedding).call is not Embedding.call:
        return False
    if type(layer).call is Conv1D.call:
        return not training and not is_grad_enabled()
    if type(layer).call is Bidirectional.call:
        return (_plain_lstm(layer.forward_layer, training)
                and _plain_lstm(layer.backward_layer, training))
    return _plain_lstm(layer, training)


def _plain_lstm(layer, training):
    return (type(layer).call is RNNBase.call and type(layer)._run is LSTM._run
            and not (training and (layer.dropout or layer.recurrent_dropout)))
