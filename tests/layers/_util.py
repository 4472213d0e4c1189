"""Helpers for the layer tests."""

import json

import numpy as np

import tinynlp as tn
from tests.helpers import check_grad, t64


def rnd(*shape, seed=0, scale=1.0):
    return scale * np.random.default_rng(seed).standard_normal(shape)


def gradcheck_layer(op_name, layer, x, call_kwargs=None, input_grad=True, **gc_kwargs):
    """Gradcheck a float64 layer w.r.t. its input (when float) and every trainable weight."""
    call_kwargs = call_kwargs or {}
    if not isinstance(x, tn.Tensor):
        x = t64(x) if np.asarray(x).dtype.kind == "f" else tn.Tensor(np.asarray(x))
    x.requires_grad = input_grad and x.dtype.kind == "f"
    if not layer.built:
        layer.build(tuple(x.shape))
        layer.built = True
    params = layer.trainable_weights
    assert params, "layer has no trainable weights"
    assert all(p.dtype == np.float64 for p in params)

    def fn(x, *ws):
        out = layer(x, **call_kwargs)
        return tuple(out) if isinstance(out, list) else out

    inputs = [x, *params]
    check_grad(op_name, fn, inputs, **gc_kwargs)


def config_round_trip(layer):
    """JSON round trip of ``serialize``; returns the rebuilt layer."""
    spec = json.loads(json.dumps(tn.layers.serialize(layer)))
    clone = tn.layers.deserialize(spec)
    assert type(clone) is type(layer)
    assert clone.get_config() == layer.get_config()
    return clone


def padded_batch(lengths, T, D, padding, seed=0):
    """Sequences of the given lengths, padded with garbage (not zeros) to T, plus the mask."""
    rng = np.random.default_rng(seed)
    seqs = [rng.standard_normal((n, D)) for n in lengths]
    x = 10.0 * rng.standard_normal((len(lengths), T, D))   # garbage must be ignored
    mask = np.zeros((len(lengths), T), dtype=bool)
    for b, s in enumerate(seqs):
        sl = slice(0, len(s)) if padding == "post" else slice(T - len(s), T)
        x[b, sl] = s
        mask[b, sl] = True
    return seqs, x, mask
