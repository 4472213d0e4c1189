"""Sequential inference in blocks of the batch over threads (tinynlp.models.blocks): the same
outputs and output mask as the whole batch, and no blocks where a layer might couple the
rows (a layer that does not declare it, a stateful RNN, a subclass that changes call)."""

import numpy as np
import pytest

import tinynlp as tn
from tinynlp.layers._utils import rows_independent
from tinynlp.workers import BlockChoice

L = tn.layers


def call_in_blocks(model, x):
    """``model(x)`` at inference with its blocks forced on, after a first call that builds it."""
    with tn.no_grad():
        model(x)
    model._block_choice = BlockChoice(force=True)
    with tn.no_grad():
        return model(x)


def run_both(model, x):
    model._block_choice = BlockChoice(force=False)
    with tn.no_grad():
        whole = model(x)
        whole_mask = model.compute_mask(x)
    model._block_choice = BlockChoice(force=True)
    with tn.no_grad():
        split = model(x)
        split_mask = model.compute_mask(x)
    return whole, whole_mask, split, split_mask


MODELS = {
    "text_cnn": lambda: [L.Embedding(50, 8), L.Conv1D(6, 3, activation="relu"),
                         L.GlobalMaxPooling1D(), L.Dense(1, activation="sigmoid")],
    "masked_lstm": lambda: [L.Embedding(50, 8, mask_zero=True), L.LSTM(5),
                            L.Dense(2, activation="softmax")],
    "masked_sequences": lambda: [L.Embedding(50, 8, mask_zero=True),
                                 L.GRU(4, return_sequences=True),
                                 L.SimpleRNN(3, return_sequences=True)],
    "transformer": lambda: [L.TokenAndPositionEmbedding(50, 12, 8),
                            L.TransformerEncoder(16, 2), L.LayerNormalization(),
                            L.GlobalAveragePooling1D(), L.Dropout(0.5), L.Dense(3)],
    "bilstm_tagger": lambda: [L.Embedding(50, 8, mask_zero=True),
                              L.Bidirectional(L.LSTM(4, return_sequences=True)),
                              L.TimeDistributed(L.Dense(3, activation="softmax"))],
    "pool_flatten": lambda: [L.Embedding(50, 4), L.MaxPooling1D(2), L.Flatten(),
                             L.BatchNormalization(), L.Dense(2, activation="tanh")],
}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("dtype,rtol", [("float32", 1e-5), ("float64", 1e-12)])
def test_blocks_give_the_whole_batch_outputs_and_mask(three_blocks, name, dtype,
                                                      rtol):
    tn.random.seed(0)
    model = tn.Sequential(MODELS[name](), dtype=dtype)
    x = np.random.default_rng(1).integers(1, 50, (7, 12))
    x[1, 8:] = 0
    x[5, 3:] = 0                                           # padding for the masked models
    with tn.no_grad():
        model(x)                                           # built
    whole, whole_mask, split, split_mask = run_both(model, x)
    assert three_blocks == [7]
    assert isinstance(split, tn.Tensor) and split.dtype == whole.dtype
    np.testing.assert_allclose(split.data, whole.data, rtol=rtol, atol=rtol)
    if whole_mask is None:
        assert split_mask is None
    else:
        np.testing.assert_array_equal(split_mask, whole_mask)


class RowMean(L.Layer):
    """Couples the rows (subtracts the batch mean); declares nothing."""

    def call(self, x, training=False):
        return x - x.mean(axis=0, keepdims=True)


class MyDense(L.Dense):
    def call(self, x, training=False, mask=None):
        return super().call(x) * 2.0


def test_no_blocks_when_a_layer_may_couple_the_rows(three_blocks):
    tn.random.seed(0)
    x = np.random.default_rng(0).standard_normal((6, 4, 3)).astype(np.float32)
    for layers in ([L.Flatten(), RowMean(), L.Dense(2)],
                   [L.Flatten(), MyDense(2)],
                   [L.SimpleRNN(3, stateful=True)]):
        call_in_blocks(tn.Sequential(layers), x)
        assert three_blocks == [], layers
    model = tn.Sequential([L.Flatten(), L.Dense(3)])        # a layer added later counts
    model._block_choice = BlockChoice(force=True)
    with tn.no_grad():
        model(x)
        model(x)
    assert three_blocks == [6]
    model.add(RowMean())
    with tn.no_grad():
        model(x)
        model(x)
    assert three_blocks == [6]
    assert not rows_independent(RowMean()) and not rows_independent(MyDense(2))
    assert rows_independent(L.Dense(2)) and rows_independent(L.LSTM(2))
    assert not rows_independent(L.LSTM(2, stateful=True))
    # the wrappers are as their layers are
    assert rows_independent(L.Bidirectional(L.GRU(2, return_sequences=True)))
    assert not rows_independent(L.Bidirectional(L.GRU(2, stateful=True)))
    assert not rows_independent(L.Bidirectional(L.GRU(2, return_state=True)))
    assert rows_independent(L.TimeDistributed(L.Dense(2)))
    assert not rows_independent(L.TimeDistributed(MyDense(2)))


def test_no_blocks_in_training_with_gradients_a_mask_or_one_row(three_blocks):
    tn.random.seed(0)
    model = tn.Sequential([L.Embedding(50, 4), L.GlobalAveragePooling1D(), L.Dense(1)])
    x = np.random.default_rng(0).integers(1, 50, (5, 6))
    model._block_choice = BlockChoice(force=True)
    with tn.no_grad():
        model(x)                                            # builds: whole
        model(x, training=True)
        model(x, mask=np.ones((5, 6), bool))
        model(x[:1])
    model(x)                                                # gradients recorded
    assert three_blocks == []
    with tn.no_grad():
        model(x)
    assert three_blocks == [5]


def test_predict_runs_in_blocks_and_agrees(three_blocks):
    tn.random.seed(0)
    model = tn.Sequential(MODELS["masked_lstm"]())
    x = np.random.default_rng(2).integers(0, 50, (9, 10))
    model(x[:2])
    model._block_choice = BlockChoice(force=False)
    expected = model.predict(x, batch_size=9)
    model._block_choice = BlockChoice(force=True)
    np.testing.assert_allclose(model.predict(x, batch_size=9), expected, rtol=1e-5, atol=1e-6)
    assert 9 in three_blocks


def test_quantized_models_never_run_in_blocks(three_blocks):
    """int8 layers: the quantized RNNs' dynamic state scale is the whole batch's."""
    from tinynlp import compress as C

    tn.random.seed(0)
    x = np.random.default_rng(0).integers(1, 50, (6, 7))
    for layers in ([L.Embedding(50, 8), L.LSTM(4), L.Dense(1)],
                   [L.Embedding(50, 8), L.GRU(4), L.Dense(1)],
                   [L.Embedding(50, 8), L.SimpleRNN(4), L.Dense(1)],
                   [L.Embedding(50, 8), L.Flatten(), L.Dense(3)]):
        model = tn.Sequential(layers)
        with tn.no_grad():
            model(x)
        q = C.quantize_dynamic(model)
        call_in_blocks(q, x)
        assert three_blocks == [], layers
        quantized = [layer for layer in q.layers if type(layer).__name__.startswith("Quantized")]
        assert len(quantized) >= 2 and not any(rows_independent(layer) for layer in quantized)
