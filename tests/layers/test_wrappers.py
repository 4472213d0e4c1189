"""Bidirectional and TimeDistributed."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynlp as tn
from tests.helpers import check_grad, t64
from tests.layers._util import config_round_trip, gradcheck_layer, padded_batch, rnd

L = tn.layers
MODES = ["concat", "sum", "mul", "ave", None]


@pytest.mark.parametrize("cls", [L.SimpleRNN, L.LSTM, L.GRU])
@pytest.mark.parametrize("padding", ["post", "pre"])
def test_bidirectional_gradcheck_masked(cls, padding):
    _, x, mask = padded_batch([4, 2, 3], 4, 2, padding, seed=1)
    layer = L.Bidirectional(cls(2, return_sequences=True, dtype="float64"))
    gradcheck_layer("layers.Bidirectional", layer, 0.3 * x, call_kwargs={"mask": mask})


@pytest.mark.parametrize("mode", MODES)
def test_bidirectional_gradcheck_merge_modes(mode):
    layer = L.Bidirectional(L.GRU(2, return_sequences=True, return_state=True,
                                  dtype="float64"), merge_mode=mode)
    gradcheck_layer("layers.Bidirectional", layer, rnd(2, 3, 2, seed=2, scale=0.5))


def test_bidirectional_equals_forward_plus_reversed_backward():
    fw = L.LSTM(3, return_sequences=True, dtype="float64")
    layer = L.Bidirectional(fw)
    x = rnd(2, 5, 4, seed=3)
    y = layer(x).data
    assert [w.shape for w in layer.weights] == [w.shape for w in fw.weights] * 2
    kf = layer.forward_layer.get_weights()
    kb = layer.backward_layer.get_weights()
    # a plain forward LSTM with the backward weights, run on the reversed input
    plain = L.LSTM(3, return_sequences=True, dtype="float64")
    plain(x)
    plain.set_weights(kb)
    expected_bw = plain(x[:, ::-1]).data[:, ::-1]
    plain.set_weights(kf)
    expected_fw = plain(x).data
    np.testing.assert_allclose(y, np.concatenate([expected_fw, expected_bw], axis=-1),
                               rtol=1e-12)


@pytest.mark.parametrize("padding", ["post", "pre"])
def test_bidirectional_masked_equals_unpadded(padding):
    seqs, x, mask = padded_batch([5, 3, 1], 5, 2, padding, seed=4)
    layer = L.Bidirectional(L.GRU(3, return_sequences=True, dtype="float64"))
    last = L.Bidirectional(L.GRU(3, dtype="float64"))
    y = layer(x, mask=mask).data
    z = last(x, mask=mask).data
    last.set_weights(layer.get_weights())
    z = last(x, mask=mask).data
    np.testing.assert_array_equal(layer.compute_mask(x, mask), mask)
    for i, s in enumerate(seqs):
        ref = layer(s[None]).data[0]
        np.testing.assert_allclose(y[i][mask[i]], ref, rtol=1e-10, atol=1e-12)
        assert np.all(y[i][~mask[i]] == 0)
        # the final states: forward after the last real token, backward after the first
        ref_last = last(s[None]).data[0]
        np.testing.assert_allclose(z[i], ref_last, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ref_last[:3], ref[-1, :3], rtol=1e-10)
        np.testing.assert_allclose(ref_last[3:], ref[0, 3:], rtol=1e-10)


@given(cls=st.sampled_from([L.SimpleRNN, L.LSTM, L.GRU]), mode=st.sampled_from(MODES),
       seq=st.booleans(), state=st.booleans(), b=st.integers(1, 3), t=st.integers(1, 4),
       units=st.integers(1, 3))
def test_bidirectional_shapes(cls, mode, seq, state, b, t, units):
    layer = L.Bidirectional(cls(units, return_sequences=seq, return_state=state),
                            merge_mode=mode)
    out = layer(rnd(b, t, 2))
    expected = layer.compute_output_shape((b, t, 2))
    outs = out if isinstance(out, list) else [out]
    exp = expected if isinstance(expected, list) else [expected]
    assert [o.shape for o in outs] == [tuple(e) for e in exp]
    main = (b, t, units) if seq else (b, units)
    width = 2 * units if mode == "concat" else units
    assert outs[0].shape == (*main[:-1], width)
    n_merged = 2 if mode is None else 1
    assert len(outs) == n_merged + (2 * layer.n_states if state else 0)


def test_bidirectional_initial_state_and_errors():
    layer = L.Bidirectional(L.LSTM(2, dtype="float64"))
    x = t64(rnd(2, 3, 2))
    layer.build(x.shape)
    states = [t64(rnd(2, 2, seed=i, scale=0.5)) for i in range(4)]
    check_grad("layers.Bidirectional",
               lambda x, *s: layer(x, initial_state=list(s[:4])), [x, *states, *layer.weights])
    with pytest.raises(ValueError, match="4 tensors"):
        layer(x, initial_state=states[:2])
    with pytest.raises(TypeError, match="recurrent layer"):
        L.Bidirectional(L.Dense(3))
    with pytest.raises(ValueError, match="merge_mode"):
        L.Bidirectional(L.GRU(2), merge_mode="max")


def test_bidirectional_config_round_trip():
    layer = L.Bidirectional(L.LSTM(4, return_sequences=True), merge_mode="ave",
                            input_shape=(7, 3))
    clone = config_round_trip(layer)
    assert clone.input_shape == (7, 3)
    assert clone.backward_layer.go_backwards and not clone.forward_layer.go_backwards
    x = rnd(2, 7, 3)
    layer(x), clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(layer(x).data, clone(x).data)
    assert layer.count_params() == 2 * 4 * (4 * (3 + 4 + 1))


# ---------------------------------------------------------------- TimeDistributed
def test_time_distributed_gradcheck_and_values():
    inner = L.Dense(3, activation="tanh", dtype="float64")
    layer = L.TimeDistributed(inner)
    x = rnd(2, 4, 5, seed=5)
    gradcheck_layer("layers.TimeDistributed", layer, x)
    np.testing.assert_allclose(layer(x).data, inner(x.reshape(8, 5)).data.reshape(2, 4, 3))
    assert layer.compute_output_shape((None, 4, 5)) == (None, 4, 3)
    assert layer.weights == inner.weights
    mask = np.ones((2, 4), bool)
    assert layer.compute_mask(x, mask) is mask


def test_time_distributed_conv_inner_and_config():
    layer = L.TimeDistributed(L.Conv1D(2, 2))
    y = layer(rnd(3, 4, 5, 1))
    assert y.shape == (3, 4, 4, 2)
    assert layer.compute_output_shape((None, 4, 5, 1)) == (None, 4, 4, 2)
    clone = config_round_trip(layer)
    assert isinstance(clone.layer, L.Conv1D)
    with pytest.raises(ValueError, match="rank 3 or more"):
        L.TimeDistributed(L.Dense(2))(np.zeros((2, 3)))


def test_masked_text_classifier_pipeline_gradcheck():
    """Embedding(mask_zero) → Bidirectional(LSTM) → GlobalMaxPooling1D → Dense, the mask
    threaded with compute_mask as a model does; padded positions change nothing."""
    layers = [L.Embedding(7, 2, mask_zero=True, dtype="float64"),
              L.Bidirectional(L.LSTM(2, return_sequences=True, dtype="float64")),
              L.GlobalMaxPooling1D(dtype="float64"),
              L.Dense(1, activation="sigmoid", dtype="float64")]

    def run(ids):
        x, mask = ids, None
        for layer in layers:
            y = layer(x, mask=mask)
            mask = layer.compute_mask(x, mask)
            x = y
        return x

    ids = np.array([[3, 1, 4, 0, 0], [5, 2, 6, 1, 6], [2, 0, 0, 0, 0]])
    out = run(ids)
    assert out.shape == (3, 1)
    params = [p for layer in layers for p in layer.trainable_weights]
    check_grad("layers.Bidirectional", lambda *ps: run(ids), params)
    # the same sentences with more padding give the same predictions
    wider = np.pad(ids, ((0, 0), (0, 3)))
    np.testing.assert_allclose(run(wider).data, out.data, rtol=1e-12)
    np.testing.assert_allclose(run(ids[2:, :1]).data, out.data[2:], rtol=1e-12)
