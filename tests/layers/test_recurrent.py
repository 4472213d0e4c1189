"""SimpleRNN, LSTM, GRU layers: gradients, masks, go_backwards, states, shapes, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynlp as tn
from tests.helpers import check_grad, t64
from tests.layers._util import config_round_trip, gradcheck_layer, padded_batch, rnd

L = tn.layers
RNNS = [L.SimpleRNN, L.LSTM, L.GRU]
NAMES = {L.SimpleRNN: "layers.SimpleRNN", L.LSTM: "layers.LSTM", L.GRU: "layers.GRU"}


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("cls", RNNS)
@pytest.mark.parametrize("kw", [
    {},
    {"return_sequences": True},
    {"return_sequences": True, "return_state": True, "go_backwards": True},
    {"use_bias": False, "return_state": True},
])
def test_rnn_gradcheck(cls, kw):
    layer = cls(3, dtype="float64", **kw)
    gradcheck_layer(NAMES[cls], layer, rnd(2, 4, 3, seed=1, scale=0.7))


@pytest.mark.parametrize("cls", RNNS)
@pytest.mark.parametrize("padding", ["post", "pre"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_rnn_gradcheck_masked(cls, padding, go_backwards):
    _, x, mask = padded_batch([4, 2, 1], 4, 2, padding, seed=2)
    layer = cls(3, return_sequences=True, return_state=True, go_backwards=go_backwards,
                dtype="float64")
    gradcheck_layer(NAMES[cls], layer, 0.3 * x, call_kwargs={"mask": mask})


@pytest.mark.parametrize("cls", RNNS)
def test_rnn_gradcheck_initial_state(cls):
    layer = cls(3, return_sequences=True, dtype="float64")
    x = t64(rnd(2, 3, 2, seed=3))
    layer.build(x.shape)
    states = [t64(rnd(2, 3, seed=4 + i, scale=0.5)) for i in range(layer.n_states)]

    def fn(x, *args):
        return layer(x, initial_state=list(args[:layer.n_states]))

    check_grad(NAMES[cls], fn, [x, *states, *layer.weights])


def test_simple_rnn_relu_gradcheck():
    layer = L.SimpleRNN(3, activation="relu", dtype="float64")
    gradcheck_layer("layers.SimpleRNN", layer, rnd(2, 3, 4, seed=5) + 0.5)


# ---------------------------------------------------------------- weights
@pytest.mark.parametrize("cls,gates", [(L.SimpleRNN, 1), (L.LSTM, 4), (L.GRU, 3)])
def test_rnn_weights_keras_layout(cls, gates):
    layer = cls(5)
    layer.build((None, 7, 3))
    shapes = [w.shape for w in layer.get_weights()]
    bias = (2, 3 * 5) if cls is L.GRU else (gates * 5,)
    assert shapes == [(3, gates * 5), (5, gates * 5), bias]
    assert [p.name.split("/")[-1] for p in layer.weights] == ["kernel", "recurrent_kernel", "bias"]
    # recurrent kernel is orthogonal in its rows (Keras' default initializer)
    U = layer.recurrent_kernel.data.astype(np.float64)
    np.testing.assert_allclose(U @ U.T, np.eye(5), atol=1e-5)


def test_lstm_unit_forget_bias():
    layer = L.LSTM(4)
    layer.build((None, 3, 2))
    b = layer.bias.data
    np.testing.assert_array_equal(b[4:8], 1.0)
    np.testing.assert_array_equal(np.delete(b, np.s_[4:8]), 0.0)
    layer2 = L.LSTM(4, unit_forget_bias=False)
    layer2.build((None, 3, 2))
    np.testing.assert_array_equal(layer2.bias.data, 0.0)


@pytest.mark.parametrize("cls", RNNS)
def test_rnn_set_weights_round_trip(cls):
    a, b = cls(3, dtype="float64"), cls(3, dtype="float64")
    x = rnd(2, 4, 2)
    a(x), b(x)
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(a(x).data, b(x).data)
    with pytest.raises(ValueError, match="expects shape"):
        b.set_weights([w[..., :-1] for w in a.get_weights()])


# ---------------------------------------------------------------- masks and direction
@pytest.mark.parametrize("cls", RNNS)
@pytest.mark.parametrize("padding", ["post", "pre"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_masked_batch_equals_unpadded_sequences(cls, padding, go_backwards):
    seqs, x, mask = padded_batch([5, 3, 1], 5, 3, padding, seed=6)
    layer = cls(4, return_sequences=True, return_state=True, go_backwards=go_backwards,
                dtype="float64")
    out, h, *_ = layer(x, mask=mask)
    out_mask = layer.compute_mask(x, mask)
    for i, s in enumerate(seqs):
        ref_out, ref_h, *_ = layer(s[None])
        np.testing.assert_allclose(h.data[i], ref_h.data[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(out.data[i][out_mask[i]], ref_out.data[0],
                                   rtol=1e-10, atol=1e-12)
        assert np.all(out.data[i][~out_mask[i]] == 0)


@pytest.mark.parametrize("cls", RNNS)
def test_go_backwards_reads_reversed_input(cls):
    fwd = cls(3, return_sequences=True, dtype="float64")
    bwd = cls(3, return_sequences=True, go_backwards=True, dtype="float64")
    x = rnd(2, 5, 2, seed=7)
    fwd(x)
    bwd(x)
    bwd.set_weights(fwd.get_weights())
    np.testing.assert_allclose(bwd(x).data, fwd(x[:, ::-1]).data, rtol=1e-12)


def test_mask_from_embedding_mask_zero():
    emb = L.Embedding(10, 3, mask_zero=True, dtype="float64")
    rnn = L.LSTM(4, dtype="float64")
    ids = np.array([[4, 5, 6, 0, 0], [7, 8, 0, 0, 0]])
    y = rnn(emb(ids), mask=emb.compute_mask(ids))
    y_short = rnn(emb(ids[:1, :3]))
    np.testing.assert_allclose(y.data[0], y_short.data[0], rtol=1e-10)


def test_compute_mask():
    m = np.array([[True, True, False]])
    x = np.zeros((1, 3, 2))
    assert L.GRU(2).compute_mask(x, m) is None
    np.testing.assert_array_equal(L.GRU(2, return_sequences=True).compute_mask(x, m), m)
    np.testing.assert_array_equal(
        L.GRU(2, return_sequences=True, go_backwards=True).compute_mask(x, m), m[:, ::-1])


# ---------------------------------------------------------------- shapes
@given(cls=st.sampled_from(RNNS), b=st.integers(1, 3), t=st.integers(1, 4),
       d=st.integers(1, 3), units=st.integers(1, 4), seq=st.booleans(), state=st.booleans(),
       back=st.booleans())
def test_rnn_output_shapes(cls, b, t, d, units, seq, state, back):
    layer = cls(units, return_sequences=seq, return_state=state, go_backwards=back)
    out = layer(rnd(b, t, d))
    expected = layer.compute_output_shape((b, t, d))
    if state:
        assert isinstance(out, list) and len(out) == 1 + layer.n_states
        assert [o.shape for o in out] == [tuple(e) for e in expected]
        main = out[0]
    else:
        assert out.shape == expected
        main = out
    assert main.shape == ((b, t, units) if seq else (b, units))
    assert main.dtype == np.float32
    symbolic = layer.compute_output_shape((None, None, d))
    symbolic = symbolic[0] if state else symbolic
    assert symbolic == ((None, None, units) if seq else (None, units))


def test_return_state_last_equals_final_output():
    layer = L.LSTM(3, return_sequences=True, return_state=True)
    out, h, c = layer(rnd(2, 4, 2))
    np.testing.assert_allclose(out.data[:, -1], h.data)
    assert c.shape == (2, 3)


# ---------------------------------------------------------------- dropout
def test_rnn_input_dropout_only_when_training():
    layer = L.SimpleRNN(3, dropout=0.5)
    x = rnd(4, 3, 6)
    a, b = layer(x), layer(x)
    np.testing.assert_array_equal(a.data, b.data)
    c = layer(x, training=True)
    assert not np.allclose(a.data, c.data)
    tn.random.seed(3)
    d = layer(x, training=True)
    tn.random.seed(3)
    e = layer(x, training=True)
    np.testing.assert_array_equal(d.data, e.data)


def test_rnn_dropout_gradcheck():
    layer = L.GRU(2, dropout=0.3, dtype="float64")
    x = t64(rnd(2, 3, 4, seed=8))
    layer.build(x.shape)

    def fn(x, *ws):
        tn.random.seed(11)   # the same dropout mask on every evaluation
        return layer(x, training=True)

    check_grad("layers.GRU", fn, [x, *layer.weights])


# ---------------------------------------------------------------- errors
def test_rnn_rank_error_names_layout():
    layer = L.SimpleRNN(4, name="rnn")
    with pytest.raises(ValueError, match=r"rank 3 \(batch, time, features\), got shape \(32, 10\)"):
        layer(np.zeros((32, 10)))


def test_rnn_feature_mismatch_error():
    layer = L.LSTM(4)
    layer(np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match=r"built for inputs with 5 features.*\(2, 3, 6\)"):
        layer(np.zeros((2, 3, 6)))


def test_rnn_argument_errors():
    with pytest.raises(ValueError, match="reset_after"):
        L.GRU(3, reset_after=False)
    with pytest.raises(ValueError, match="activation"):
        L.SimpleRNN(3, activation="softmax")
    with pytest.raises(ValueError, match="recurrent_activation"):
        L.LSTM(3, recurrent_activation="hard_sigmoid")
    with pytest.raises(ValueError, match="units"):
        L.LSTM(0)
    with pytest.raises(ValueError, match="dropout"):
        L.LSTM(3, dropout=1.0)
    with pytest.raises(ValueError, match=r"recurrent_dropout must be in \[0, 1\), got 1.0"):
        L.GRU(3, recurrent_dropout=1.0)
    assert L.GRU(3, recurrent_dropout=0.2).recurrent_dropout == 0.2
    layer = L.LSTM(3)
    x = np.zeros((2, 4, 2))
    with pytest.raises(ValueError, match="2 tensor"):
        layer(x, initial_state=[np.zeros((2, 3))])
    with pytest.raises(ValueError, match=r"\(2, 3\), got \(2, 4\)"):
        layer(x, initial_state=[np.zeros((2, 4)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match=r"mask must have shape"):
        layer(x, mask=np.ones((2, 5), bool))


# ---------------------------------------------------------------- config
@pytest.mark.parametrize("cls", RNNS)
def test_rnn_config_round_trip(cls):
    layer = cls(6, return_sequences=True, go_backwards=True, dropout=0.25,
                kernel_regularizer=tn.regularizers.L2(1e-3), input_shape=(5, 3))
    clone = config_round_trip(layer)
    assert clone.kernel_regularizer == tn.regularizers.L2(1e-3)
    clone.build((None, 5, 3))
    layer.build((None, 5, 3))
    assert [w.shape for w in clone.weights] == [w.shape for w in layer.weights]
