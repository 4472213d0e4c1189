"""A quantized Embedding and a quantized Conv1D as one op at inference
(``QuantizedConv1D.call_on_lookup``): each output step a sum of rows of P, the int8
products of the distinct ids' rows with the kernel's taps — with dynamic scales the exact
convolution of the int8 values, with a calibrated scale the per-patch path's numbers;
never while calibrating or with a gradient."""

import numpy as np
import pytest

import tinynlp as tn
from tinynlp import functional as F
from tinynlp.compress.quantization import QuantizedConv1D, calibrate, quantize_dynamic
from tinynlp.kernels.int8 import gather_dequantize
from tinynlp.layers.lookup import looks_up
from tinynlp.models import sequential

L = tn.layers


def _model():
    tn.random.seed(3)
    model = tn.Sequential([L.Embedding(60, 8), L.Conv1D(6, 3, activation="relu",
                                                        padding="same"),
                           L.GlobalMaxPooling1D(), L.Dense(1, activation="sigmoid")])
    model.build((None, 12))
    return model


def _ids(seed=4):
    x = np.random.default_rng(seed).integers(1, 15, (5, 12))
    x[:, :5] = 0                                      # 15 distinct ids of 60 positions
    return x


def _folds(monkeypatch):
    calls = []
    real = QuantizedConv1D.call_on_lookup

    def spy(self, *a, **k):
        calls.append(1)
        return real(self, *a, **k)
    monkeypatch.setattr(QuantizedConv1D, "call_on_lookup", spy)
    return calls


def _plain_and_folded(monkeypatch, model, x):
    """``model(x)`` at inference with the two layers, then folded; the folds counted."""
    with tn.no_grad():
        with monkeypatch.context() as mp:
            mp.setattr(sequential, "looks_up", lambda *a: False)
            plain = model(x).data
        calls = _folds(monkeypatch)
        folded = model(x).data
    return plain, folded, calls


def test_the_layer_is_the_float_convolution_of_the_int8_values():
    q = quantize_dynamic(_model())
    emb, cnv = q.layers[:2]
    x = _ids()
    with tn.no_grad():
        got = cnv.call_on_lookup(emb, x).data
    table = gather_dequantize(emb.embeddings_q.data, emb.embeddings_scale.data,
                              np.arange(emb.input_dim))
    w = (cnv.kernel_q.data.T * cnv.kernel_scale.data).reshape(3, 8, 6)
    with tn.no_grad():
        want = F.conv1d(F.embedding(x, table), w, cnv.bias.data, padding="same",
                        activation="relu").data
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_a_quantized_model_folds_and_stays_close(monkeypatch):
    """Folded, each row is quantized on its own (the table's own codes come back) instead
    of each window of rows: the output is at least as close to the float model's as the
    per-patch int8 products are (within a quantization step)."""
    model = _model()
    x = _ids()
    q = quantize_dynamic(model)
    with tn.no_grad():
        flt = model(x).data
    plain, folded, calls = _plain_and_folded(monkeypatch, q, x)
    assert calls == [1]
    np.testing.assert_allclose(folded, plain, atol=5e-3)
    assert np.abs(folded - flt).max() <= np.abs(plain - flt).max() + 1e-6


def test_many_distinct_ids_take_the_int8_path(monkeypatch):
    q = quantize_dynamic(_model())
    x = np.arange(60).reshape(5, 12)                  # every position distinct
    with tn.no_grad():
        with monkeypatch.context() as mp:
            mp.setattr(sequential, "looks_up", lambda *a: False)
            plain = q(x).data
        folded = q(x).data
    np.testing.assert_array_equal(folded, plain)


def test_no_fold_when_calibrating_or_training():
    q = quantize_dynamic(_model())
    emb, cnv = q.layers[:2]
    with tn.no_grad():
        assert looks_up(emb, cnv)
        assert not looks_up(emb, cnv, training=True)
    assert not looks_up(emb, cnv)                     # grad mode on
    cnv.start_calibration()
    with tn.no_grad():
        assert not looks_up(emb, cnv)
    cnv.finish_calibration()


def test_a_calibrated_scale_quantizes_every_value_as_the_patches_do(monkeypatch):
    """One static scale for every input: quantizing a row or a window of rows gives the
    same codes, so the fold equals the per-patch int8 path up to float rounding."""
    x = _ids()
    static = calibrate(quantize_dynamic(_model()), x)
    assert static.layers[1].input_scale.data[0] > 0
    plain, folded, calls = _plain_and_folded(monkeypatch, static, x)
    assert calls == [1]
    np.testing.assert_allclose(folded, plain, rtol=1e-5, atol=1e-6)


def test_a_subclass_makes_no_promise():
    class Changed(QuantizedConv1D):
        def call(self, x, training=False):
            return super().call(x, training=training)

    q = quantize_dynamic(_model())
    emb, cnv = q.layers[:2]
    other = Changed.from_config(cnv.get_config())
    other.build((None, 12, 8))
    float_emb = L.Embedding(60, 8)
    tn.Sequential([float_emb]).build((None, 12))
    with tn.no_grad():
        assert looks_up(emb, cnv) and not looks_up(emb, other)
        assert not looks_up(float_emb, cnv)           # it reads a quantized table only


@pytest.mark.parametrize("bad", [np.array([[1, 60, 2]]), np.array([1, 2, 3])])
def test_bad_ids_get_the_quantized_embeddings_errors(bad):
    q = quantize_dynamic(_model())
    with pytest.raises(ValueError), tn.no_grad():
        q(bad)
