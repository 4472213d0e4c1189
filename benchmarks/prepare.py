"""Data and initial weights, made once (with tinynlp) and shared by every framework.

Everything a worker needs is written to one ``.npz`` per model: the train and
test arrays, the initial weights in tinynlp/Keras layout (``k0, k1, ...`` in
Keras weight order) and the same weights converted to PyTorch's layout
(``t:<state_dict key>``), using the converters in
:mod:`tinynlp.functional.rnn` for the recurrent layers.  Workers then import
only NumPy and their own framework.
"""

from __future__ import annotations

import numpy as np

from .specs import SEED, ModelSpec
from .transformer_layout import char_windows, encode_chars, transformer_torch_layout

#: number of synthetic examples for the seed models (train, test)
SYNTHETIC_SIZES = (10_000, 2_000)


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------

def synthetic_data(spec: ModelSpec, n_train: int, n_test: int):
    """Seed models have no text: a learnable rule on Gaussian inputs.

    seed RNN, x (N, 1, 10): label 1 when the first five features sum to more
    than the last five.  seed CNN, x (N, L, 1): label 1 when the first half of
    the signal has a larger mean than the second half.
    """
    rng = np.random.default_rng(SEED)
    n = n_train + n_test
    s = spec.sizes
    if spec.kind == "seed_rnn":
        x = rng.standard_normal((n, s["steps"], s["features"])).astype(np.float32)
        half = s["features"] // 2
        y = (x[:, -1, :half].sum(1) > x[:, -1, half:].sum(1))
    else:
        length = s["length"]
        x = rng.standard_normal((n, length, 1)).astype(np.float32)
        y = x[:, :length // 2, 0].mean(1) > x[:, length // 2:, 0].mean(1)
    y = y.astype(np.float32)[:, None]
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def text_data(spec: ModelSpec, limit=None):
    """Rotten Tomatoes, tokenised to ``vocab`` words and padded/truncated to ``maxlen``
    (Keras semantics: ``Tokenizer(num_words=vocab)``, ``pad_sequences`` 'pre')."""
    import tinynlp as tn

    (xtr, ytr), (xte, yte) = tn.datasets.load_rotten_tomatoes()
    if limit is not None:
        xtr, ytr, xte, yte = xtr[:limit[0]], ytr[:limit[0]], xte[:limit[1]], yte[:limit[1]]
    tok = tn.text.Tokenizer(num_words=spec.sizes["vocab"])
    tok.fit_on_texts(xtr)
    maxlen = spec.sizes["maxlen"]

    def encode(texts):
        return tn.text.pad_sequences(tok.texts_to_sequences(texts), maxlen=maxlen,
                                     dtype="int64")

    return ((encode(xtr), np.asarray(ytr, np.float32)[:, None]),
            (encode(xte), np.asarray(yte, np.float32)[:, None]))


def shakespeare_data(spec: ModelSpec, quick: bool = False):
    """Windows of the bundled Shakespeare's characters (train windows from its train text,
    test windows from its test text): x (N, context) ids, y the next characters."""
    import tinynlp as tn

    train, test = tn.datasets.load_shakespeare()
    n_train, n_test = (256, 128) if quick else (20_000, 2_000)
    context = spec.sizes["context"]
    return (char_windows(encode_chars(train), context, n_train, SEED),
            char_windows(encode_chars(test), context, n_test, SEED + 1))


def make_data(spec: ModelSpec, quick: bool = False):
    if spec.data == "shakespeare":
        return shakespeare_data(spec, quick)
    if spec.data == "synthetic":
        n_train, n_test = (256, 128) if quick else SYNTHETIC_SIZES
        return synthetic_data(spec, n_train, n_test)
    return text_data(spec, limit=(256, 128) if quick else None)


# --------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------

def initial_weights(spec: ModelSpec) -> list:
    """Keras-order initial weights of the tinynlp model (seeded, Keras initialisers)."""
    import tinynlp as tn

    from .tinynlp_models import build_layers, input_example

    tn.random.seed(SEED)
    if spec.kind == "gpt":
        from .tinynlp_models import build_gpt

        return build_gpt(spec).get_weights()
    layers = build_layers(spec)
    x = input_example(spec, batch=2)
    for layer in layers:
        x = layer(x)
    return [w for layer in layers for w in layer.get_weights()]


def torch_layout(spec: ModelSpec, weights: list) -> dict:
    """The same weights as ``{torch state_dict key: array}`` for :mod:`benchmarks.torch_models`.

    Dense kernels (in, out) → Linear weights (out, in); conv kernels
    (K, C, F) → (F, C, K); recurrent weights through tinynlp's converters
    (all of the bias goes to ``bias_ih``; ``bias_hh`` is zero and frozen in
    the torch model, so the two frameworks train the same number of values).
    """
    from tinynlp import functional as F

    if spec.kind in ("gpt", "transformer_cls"):
        return {k: np.ascontiguousarray(v, dtype=np.float32)
                for k, v in transformer_torch_layout(spec.kind, spec.sizes, weights).items()}
    w = list(weights)
    out = {}
    if spec.uses_embedding:
        out["emb.weight"] = w.pop(0)
    if spec.kind in ("seed_rnn", "emb_rnn", "emb_lstm"):
        conv = F.lstm_weights_to_torch if spec.kind == "emb_lstm" else F.rnn_weights_to_torch
        names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
        for n, a in zip(names, conv(w.pop(0), w.pop(0), w.pop(0))):
            out[f"rnn.{n}"] = a
        k, b = w.pop(0), w.pop(0)
        out["fc.weight"], out["fc.bias"] = k.T.copy(), b
    elif spec.kind == "seed_cnn":
        k, b = w.pop(0), w.pop(0)
        out["conv.weight"], out["conv.bias"] = k.transpose(2, 1, 0).copy(), b
        k1, b1 = w.pop(0), w.pop(0)
        filters = k.shape[2]
        steps = k1.shape[0] // filters
        # Keras flattens (steps, filters) as t·F + f; torch flattens (filters, steps) as f·L + t
        k1 = k1.reshape(steps, filters, -1).transpose(1, 0, 2).reshape(steps * filters, -1)
        out["fc1.weight"], out["fc1.bias"] = k1.T.copy(), b1
        k2, b2 = w.pop(0), w.pop(0)
        out["fc2.weight"], out["fc2.bias"] = k2.T.copy(), b2
    elif spec.kind == "emb_cnn":
        k, b = w.pop(0), w.pop(0)
        out["conv.weight"], out["conv.bias"] = k.transpose(2, 1, 0).copy(), b
        k, b = w.pop(0), w.pop(0)
        out["fc.weight"], out["fc.bias"] = k.T.copy(), b
    if w:
        raise RuntimeError(f"torch_layout: {len(w)} weights left over for {spec.name}")
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def write_bundle(path, spec: ModelSpec, quick: bool = False) -> None:
    """Data + weights for one model in one ``.npz``."""
    (xtr, ytr), (xte, yte) = make_data(spec, quick)
    weights = initial_weights(spec)
    arrays = {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte}
    arrays.update({f"k{i}": w for i, w in enumerate(weights)})
    arrays.update({f"t:{k}": v for k, v in torch_layout(spec, weights).items()})
    np.savez(path, **arrays)


def read_bundle(path):
    """``(data dict, keras-order weight list, torch state dict)`` from :func:`write_bundle`."""
    with np.load(path, allow_pickle=False) as z:
        data = {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test")}
        n = sum(1 for k in z.files if k[0] == "k" and k[1:].isdigit())
        keras_w = [z[f"k{i}"] for i in range(n)]
        torch_w = {k[2:]: z[k] for k in z.files if k.startswith("t:")}
    return data, keras_w, torch_w
