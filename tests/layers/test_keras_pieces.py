"""The Keras pieces course code reaches for: Masking, BatchNormalization, stateful RNNs,
recurrent_dropout, to_json / model_from_json — float64 gradchecks and behaviour
(Keras parity with copied weights: tests/layers/test_keras_pieces_parity.py)."""

import json

import numpy as np
import pytest

import tinynlp as tn
from tinynlp import functional as F
from tests.helpers import check_grad, t64
from tests.layers._util import config_round_trip, gradcheck_layer, rnd

L = tn.layers
RNNS = [L.SimpleRNN, L.LSTM, L.GRU]


# ---------------------------------------------------------------- Masking
def masked_input(seed=0):
    x = rnd(3, 5, 4, seed=seed)
    x[0, 3:] = 0.0          # post-padding
    x[2, :2] = 0.0          # pre-padding
    x[1, 2, 1] = 0.0        # a zero inside a real step does not mask it
    return x


def test_masking_zeroes_steps_and_passes_the_mask_on():
    x = masked_input()
    layer = L.Masking()
    keep = np.array([[1, 1, 1, 0, 0], [1] * 5, [0, 0, 1, 1, 1]], dtype=bool)
    np.testing.assert_array_equal(layer.compute_mask(x), keep)
    y = layer(x).data
    np.testing.assert_array_equal(y, x.astype(np.float32) * keep[..., None])
    marked = rnd(2, 3, 2)
    marked[0, 1] = -1.0
    assert L.Masking(mask_value=-1).compute_mask(marked).tolist() == [[True, False, True],
                                                                      [True, True, True]]
    for cls in RNNS:     # Masking → RNN is the RNN given the mask explicitly
        tn.random.seed(3)
        model = tn.Sequential([L.Masking(), cls(4)])
        rnn = cls(4)
        rnn(x)
        model(x)
        rnn.set_weights(model.layers[1].get_weights())
        np.testing.assert_allclose(model(x).data, rnn(x, mask=keep).data, rtol=1e-6)
    assert config_round_trip(L.Masking(mask_value=2.5)).mask_value == 2.5
    with pytest.raises(ValueError, match="mask_value must be a number"):
        L.Masking(mask_value="pad")


@pytest.mark.parametrize("cls", RNNS)
def test_masking_gradcheck(cls):
    """Through Masking into an RNN: the gradient of every weight, padded steps skipped
    (the input gradient is m_t · g_t: checked away from the mask's boundary)."""
    x = t64(masked_input(seed=1), requires_grad=False)
    rnn = cls(3, dtype="float64", return_sequences=True)
    masking = L.Masking(dtype="float64")
    rnn.build(x.shape)
    rnn.built = True

    def fn(*weights):
        return rnn(masking(x), mask=masking.compute_mask(x))

    check_grad("layers.Masking", fn, rnn.trainable_weights)
    dense = t64(rnd(2, 3, 4, seed=4) + 5.0)          # no step near the mask value
    check_grad("layers.Masking", lambda v: masking(v) * 2.0, [dense])


# ---------------------------------------------------------------- BatchNormalization
@pytest.mark.parametrize("with_mask", [False, True])
def test_batch_norm_op_gradcheck_and_twin(with_mask):
    rng = np.random.default_rng(0)
    x = t64(rng.standard_normal((4, 5, 3)) * 2 + 1)
    gamma, beta = t64(rng.standard_normal(3) + 1), t64(rng.standard_normal(3))
    mask = rng.random((4, 5)) > 0.3 if with_mask else None
    fast = F.batch_norm(x, gamma, beta, eps=1e-3, mask=mask)
    slow = F.batch_norm_reference(x, gamma, beta, eps=1e-3, mask=mask)
    np.testing.assert_allclose(fast.data, slow.data, rtol=1e-12, atol=1e-12)
    check_grad("batch_norm", lambda x, g, b: F.batch_norm(x, g, b, mask=mask), [x, gamma, beta])
    check_grad("batch_norm_reference",
               lambda x, g, b: F.batch_norm_reference(x, g, b, mask=mask), [x, gamma, beta])
    # masked positions do not change the statistics
    if with_mask:
        moved = x.data.copy()
        moved[~mask] += 100.0
        y = F.batch_norm(moved, gamma.data, beta.data, mask=mask).data
        np.testing.assert_allclose(y[mask], fast.data[mask], rtol=1e-10)
    mean, var = F.batch_moments(x.data, mask)
    sel = x.data[mask] if with_mask else x.data.reshape(-1, 3)
    np.testing.assert_allclose(mean, sel.mean(axis=0))
    np.testing.assert_allclose(var, sel.var(axis=0))


def test_batch_norm_layer_training_inference_and_moving_statistics():
    rng = np.random.default_rng(1)
    layer = L.BatchNormalization(momentum=0.9, dtype="float64")
    x = rng.standard_normal((16, 3)) * 3 + 2
    y = layer(x, training=True).data
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=0), 9 / (9 + 1e-3), rtol=0.05)
    _, _, mm, mv = layer.get_weights()
    np.testing.assert_allclose(mm, 0.1 * x.mean(axis=0))
    np.testing.assert_allclose(mv, 0.9 + 0.1 * x.var(axis=0))
    assert [w.name.split("/")[-1] for w in layer.weights] == \
        ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.trainable for w in layer.weights] == [True, True, False, False]
    inference = layer(x).data                          # the moving statistics
    np.testing.assert_allclose(inference, (x - mm) / np.sqrt(mv + 1e-3))
    layer.trainable = False                            # frozen: inference even in training
    np.testing.assert_allclose(layer(x, training=True).data, inference)
    np.testing.assert_array_equal(layer.get_weights()[2], mm)
    gradcheck_layer("layers.BatchNormalization", L.BatchNormalization(dtype="float64"),
                    rnd(4, 3, 2, seed=2), call_kwargs={"training": True})
    clone = config_round_trip(L.BatchNormalization(momentum=0.5, epsilon=1e-5, center=False))
    assert clone.momentum == 0.5 and clone.center is False
    with pytest.raises(ValueError, match="only axis=-1"):
        L.BatchNormalization(axis=1)


def test_batch_norm_in_a_trained_model_saves_its_moving_statistics(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 6)).astype(np.float32) * 4 + 3
    y = (x[:, 0] > 3).astype(np.float32)
    model = tn.Sequential([L.Dense(8, input_shape=(6,)), L.BatchNormalization(),
                           L.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert not np.allclose(model.layers[1].get_weights()[2], 0)   # moving mean moved
    model.save(tmp_path / "m.tnz")
    again = tn.models.load_model(tmp_path / "m.tnz")
    np.testing.assert_allclose(again.predict(x), model.predict(x), rtol=1e-6)


# ---------------------------------------------------------------- stateful
@pytest.mark.parametrize("cls", RNNS)
def test_stateful_chunks_equal_the_whole_sequence(cls):
    x = rnd(2, 9, 3, seed=5).astype(np.float32)
    whole = cls(4, return_sequences=True)
    full = whole(x).data
    layer = cls(4, return_sequences=True, stateful=True)
    layer(x[:, :1])
    layer.set_weights(whole.get_weights())
    layer.reset_states()
    parts = [layer(x[:, a:b]).data for a, b in ((0, 4), (4, 5), (5, 9))]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), full, rtol=1e-5, atol=1e-6)
    assert len(layer.states) == (2 if cls is L.LSTM else 1)
    layer.reset_states()
    assert layer.states is None
    np.testing.assert_allclose(layer(x[:, :4]).data, full[:, :4], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="carries the states of a batch of 2 sequences, but "
                                         "got a batch of 3"):
        layer(np.zeros((3, 2, 3), np.float32))
    h = np.ones((2, 4), np.float32)
    layer.reset_states([h] * len(layer.states))
    np.testing.assert_array_equal(layer.states[0], h)
    with pytest.raises(ValueError, match=r"expected \d array\(s\) of shape \(batch, 4\)"):
        layer.reset_states([np.ones((2, 5))] * len(layer.states))
    assert config_round_trip(layer).stateful is True


@pytest.mark.parametrize("cls", RNNS)
def test_stateful_gradcheck(cls):
    """A stateful call starts from the carried states (constants: no gradient flows into
    the previous call); the gradient of its input and weights is checked from there."""
    x = rnd(2, 4, 3, seed=10)
    layer = cls(3, stateful=True, return_sequences=True, dtype="float64")
    layer(x[:, :2])
    carried = [s.copy() for s in layer.states]
    assert np.abs(carried[0]).sum() > 0

    def fn(x, *weights):
        layer.reset_states(carried)      # the same starting states at every evaluation
        return layer(x)

    check_grad(f"layers.{cls.__name__}(stateful)", fn, [t64(x[:, 2:]), *layer.trainable_weights])


def test_stateful_in_models_and_reset_from_the_model():
    x = rnd(4, 6, 3, seed=6).astype(np.float32)
    model = tn.Sequential([L.LSTM(5, stateful=True, input_shape=(None, 3)), L.Dense(1)])
    assert model.layers[0].states is None          # the build's dummy run leaves no state
    a = model.predict(x, batch_size=4)
    b = model.predict(x, batch_size=4)             # continues from a's final states
    assert not np.allclose(a, b)
    model.reset_states()
    np.testing.assert_allclose(model.predict(x, batch_size=4), a, rtol=1e-6)
    inp = tn.Input(shape=(None, 3), batch_size=4)
    out = L.Dense(2)(L.GRU(3, stateful=True)(inp))
    functional = tn.Model(inp, out)                # two dry runs (batch 4) then a reset
    rnn = functional.layers[1]
    assert rnn.states is None
    functional(x)
    assert rnn.states[0].shape == (4, 3)
    functional.reset_states()
    assert rnn.states is None
    bi = L.Bidirectional(L.LSTM(2, stateful=True))
    bi(x)
    assert bi.forward_layer.states is not None
    bi.reset_states()
    assert bi.forward_layer.states is None and bi.backward_layer.states is None


# ---------------------------------------------------------------- recurrent_dropout
def fixed_masks(monkeypatch, seed=7):
    """Make every per-gate dropout mask a fixed draw (the same on every call)."""
    cache = {}

    def masks(self, rate, batch, size, dtype):
        if not rate:
            return None
        key = (type(self).__name__, rate, batch, size)
        if key not in cache:
            rng = np.random.default_rng(seed + len(cache))
            cache[key] = [((rng.random((batch, size)) >= rate) / (1 - rate)).astype(dtype)
                          for _ in range(self.n_gates)]
        return cache[key]

    monkeypatch.setattr(L.RNNBase, "_gate_masks", masks)
    return cache


@pytest.mark.parametrize("cls", RNNS)
def test_recurrent_dropout_gradcheck_and_its_masks(cls, monkeypatch):
    x = rnd(3, 5, 2, seed=8)
    mask = np.ones((3, 5), bool)
    mask[1, 3:] = False
    cache = fixed_masks(monkeypatch)
    layer = cls(3, dropout=0.3, recurrent_dropout=0.4, dtype="float64")
    gradcheck_layer(f"layers.{cls.__name__}(recurrent_dropout)", layer, x,
                    call_kwargs={"training": True, "mask": mask})
    rec = cache[(cls.__name__, 0.4, 3, 3)]
    assert len(rec) == layer.n_gates and {float(v) for m in rec for v in m.ravel()} <= \
        {0.0, 1 / 0.6}
    # the per-step path is the readable twin given the masks; without dropout (inference)
    # it is the fused op
    noisy = layer(x, training=True, mask=mask).data
    clean = layer(x, mask=mask).data
    assert not np.allclose(noisy, clean)
    twin = {L.SimpleRNN: F.elman_rnn_reference, L.LSTM: F.lstm_reference,
            L.GRU: F.gru_reference}[cls]
    fused = {L.SimpleRNN: F.elman_rnn, L.LSTM: F.lstm, L.GRU: F.gru}[cls]
    args = [x, None] + ([None] if cls is L.LSTM else []) + [w for w in layer.get_weights()]
    np.testing.assert_allclose(clean, fused(*args, mask=mask)[1].data, rtol=1e-12)
    np.testing.assert_allclose(
        noisy, twin(*args, mask=mask, input_masks=cache[(cls.__name__, 0.3, 3, 2)],
                    recurrent_masks=rec)[1].data, rtol=1e-12)


def test_recurrent_dropout_rate_and_training_a_model():
    layer = L.LSTM(200, recurrent_dropout=0.25)
    masks = layer._gate_masks(0.25, 50, 200, np.float32)
    zeros = np.mean([np.mean(m == 0) for m in masks])
    assert abs(zeros - 0.25) < 0.02 and len(masks) == 4
    rng = np.random.default_rng(9)
    x = rng.standard_normal((32, 6, 3)).astype(np.float32)
    y = (x[:, :, 0].sum(axis=1) > 0).astype(np.float32)
    model = tn.Sequential([L.GRU(8, recurrent_dropout=0.2), L.Dense(1, activation="sigmoid")])
    model.compile(tn.optimizers.Adam(0.02), "binary_crossentropy")
    history = model.fit(x, y, epochs=8, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


# ---------------------------------------------------------------- to_json / model_from_json
def test_to_json_round_trips_sequential_functional_and_subclassed():
    seqm = tn.Sequential([L.Embedding(30, 4, mask_zero=True), L.LSTM(3, recurrent_dropout=0.1),
                          L.BatchNormalization(), L.Dense(2, activation="softmax")])
    ids = np.array([[3, 4, 0], [5, 0, 0]])
    seqm(ids)
    text = seqm.to_json()
    spec = json.loads(text)
    assert spec["class_name"] == "Sequential" and "tinynlp_version" in spec
    clone = tn.models.model_from_json(text)
    clone(ids)
    clone.set_weights(seqm.get_weights())
    np.testing.assert_allclose(clone.predict(ids), seqm.predict(ids), rtol=1e-6)
    assert [type(layer) for layer in clone.layers] == [type(layer) for layer in seqm.layers]

    inp = tn.Input(shape=(None,), dtype="int32")
    out = L.Dense(1)(L.GlobalAveragePooling1D()(L.Embedding(20, 4, mask_zero=True)(inp)))
    fmodel = tn.Model(inp, out)
    fclone = tn.models.model_from_json(fmodel.to_json(indent=2))
    assert fclone.count_params() == fmodel.count_params()
    fclone.set_weights(fmodel.get_weights())
    np.testing.assert_allclose(fclone.predict(ids), fmodel.predict(ids), rtol=1e-6)

    from tinynlp.tasks.sentiment import KimCNN
    kim = KimCNN(vocab_size=50, embedding_dim=4, filters=2)
    again = tn.models.model_from_json(kim.to_json())
    assert isinstance(again, KimCNN) and again.config == kim.config

    class Mine(tn.Model):
        pass

    with pytest.raises(ValueError, match="custom_objects"):
        tn.models.model_from_json(Mine().to_json())
    assert isinstance(tn.models.model_from_json(Mine().to_json(), {"Mine": Mine}), Mine)
    with pytest.raises(ValueError, match="not a JSON string"):
        tn.models.model_from_json("{not json")
    with pytest.raises(ValueError, match="is not a Model class"):
        tn.models.model_from_json(json.dumps({"class_name": "Dense", "config": {"units": 2}}))
