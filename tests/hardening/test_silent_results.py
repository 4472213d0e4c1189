"""Inputs that used to give a silently wrong result (an empty array, NaN, a wrong column,
INT_MIN) now raise a clear error naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

import tinynlp as tn
from tinynlp import functional as F


@pytest.fixture
def model():
    m = tn.Sequential([tn.layers.Dense(1, activation="sigmoid", input_shape=(3,))])
    m.compile("adam", "binary_crossentropy")
    return m


X = np.random.default_rng(0).random((5, 3)).astype(np.float32)
Y = np.array([0, 1, 0, 1, 1], np.float32)


@pytest.mark.parametrize("batch_size", [-1, 0, 2.5, True, "8"])
@pytest.mark.parametrize("call", ["predict", "evaluate", "fit"])
def test_bad_batch_size_is_a_clear_error(model, call, batch_size):
    run = {"predict": lambda: model.predict(X, batch_size=batch_size),
           "evaluate": lambda: model.evaluate(X, Y, batch_size=batch_size, verbose=0),
           "fit": lambda: model.fit(X, Y, batch_size=batch_size, verbose=0)}[call]
    with pytest.raises(ValueError, match=f"{call}: batch_size must be a positive integer"):
        run()


def test_functional_multi_output_predict_checks_batch_size():
    inp = tn.Input(shape=(3,))
    m = tn.Model(inp, [tn.layers.Dense(1)(inp), tn.layers.Dense(2)(inp)])
    with pytest.raises(ValueError, match="predict: batch_size"):
        m.predict(X, batch_size=-1)


@pytest.mark.parametrize("call", ["fit", "evaluate"])
def test_fit_and_evaluate_on_no_samples_are_errors_not_nan(model, call):
    x, y = np.zeros((0, 3), np.float32), np.zeros(0, np.float32)
    run = model.fit if call == "fit" else model.evaluate
    with pytest.raises(ValueError, match=f"{call}: x has no samples"):
        run(x, y, verbose=0)


def test_predict_on_no_samples_still_returns_an_empty_array(model):
    assert model.predict(np.zeros((0, 3), np.float32)).shape[0] == 0


@pytest.mark.parametrize("labels", [[0, 2, 1], [-1, 0, 1], [0.5, 1.5, 0], [0, np.nan, 1]])
def test_binary_crossentropy_refuses_labels_outside_0_1(labels):
    p = tn.tensor(np.full(3, 0.5, np.float32))
    with pytest.raises(ValueError, match="binary_crossentropy: y_true must hold labels"):
        F.binary_crossentropy(np.array(labels, np.float32), p)
    with pytest.raises(ValueError, match="binary_crossentropy: y_true must hold labels"):
        F.binary_crossentropy(np.array(labels, np.float32), p, from_logits=True)


def test_binary_crossentropy_through_fit_refuses_bad_labels(model):
    with pytest.raises(ValueError, match="y_true must hold labels"):
        model.fit(X, Y * 2, verbose=0)


def test_binary_crossentropy_accepts_soft_labels_and_ignores_masked_positions():
    p = tn.tensor(np.full((2, 3), 0.5, np.float32))
    F.binary_crossentropy(np.array([[0.1, 0.9, 1.0], [0.0, 0.5, 1.0]]), p)
    y = np.array([[0, 1, -1], [1, -1, -1]], np.float32)     # -1: padding, masked out
    mask = y >= 0
    loss = F.binary_crossentropy(y[..., None], tn.tensor(np.full((2, 3, 1), 0.5, np.float32)),
                                 mask=mask)
    assert np.isfinite(loss.data)


def test_mse_still_takes_any_target():
    F.mse(np.array([-3.0, 7.0]), tn.tensor(np.zeros(2)))


@pytest.mark.parametrize("seq", [[[-1]], [[1, -2]], [[1.5]], [["a"]]])
def test_sequences_to_matrix_refuses_what_is_not_a_word_index(seq):
    tok = tn.text.Tokenizer()
    tok.fit_on_texts(["a b c"])
    with pytest.raises(ValueError, match=r"sequences\[0\]\[\d\]: expected a word index"):
        tok.sequences_to_matrix(seq)


def test_sequences_to_matrix_still_skips_indices_beyond_num_words():
    tok = tn.text.Tokenizer(num_words=3)
    tok.fit_on_texts(["a b c d"])
    np.testing.assert_array_equal(tok.sequences_to_matrix([[1, 7]]), [[0, 1, 0]])


@pytest.mark.parametrize("value", [np.nan, np.inf, 0.5, 2**40, "x"])
def test_pad_sequences_refuses_a_value_the_int_dtype_cannot_hold(value):
    with pytest.raises(ValueError, match="value: the padding value"):
        tn.text.pad_sequences([[1, 2]], maxlen=4, value=value)


def test_pad_sequences_refuses_nan_data_into_an_int_dtype():
    with pytest.raises(ValueError, match=r"sequences\[1\]: holds NaN"):
        tn.text.pad_sequences([[1.0], [np.nan, 2.0]], maxlen=3)


def test_pad_sequences_with_nan_into_a_float_dtype_still_works():
    out = tn.text.pad_sequences([[1, 2]], maxlen=4, value=np.nan, dtype="float32")
    assert np.isnan(out[0, :2]).all() and out[0, 3] == 2
    assert tn.text.pad_sequences([[1]], maxlen=2, value=-1.0)[0, 0] == -1


@pytest.mark.parametrize("topn", [-1, -3, 1.5, True])
def test_most_similar_refuses_a_negative_topn_instead_of_dropping_results(topn):
    from . import crafting as K
    kv = K.small_vectors()
    with pytest.raises(ValueError, match="most_similar: topn must be None or an integer"):
        kv.most_similar("cat", topn=topn)
    assert kv.most_similar("cat", topn=0) == []
    with pytest.raises(KeyError, match="'zebra' not present"):
        kv.most_similar("zebra")
