"""pad_sequences against hand-written Keras results, properties, and errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinynlp.text import pad_sequences

SEQS = [[1, 2, 3], [4, 5], [6]]


@pytest.mark.parametrize("kwargs, expected", [
    # Keras defaults: padding="pre", truncating="pre", maxlen = longest
    ({}, [[1, 2, 3], [0, 4, 5], [0, 0, 6]]),
    ({"maxlen": 2}, [[2, 3], [4, 5], [0, 6]]),
    ({"maxlen": 2, "truncating": "post"}, [[1, 2], [4, 5], [0, 6]]),
    ({"maxlen": 2, "padding": "post"}, [[2, 3], [4, 5], [6, 0]]),
    ({"maxlen": 2, "padding": "post", "truncating": "post"}, [[1, 2], [4, 5], [6, 0]]),
    ({"maxlen": 4}, [[0, 1, 2, 3], [0, 0, 4, 5], [0, 0, 0, 6]]),
    ({"maxlen": 4, "padding": "post", "value": -1}, [[1, 2, 3, -1], [4, 5, -1, -1],
                                                     [6, -1, -1, -1]]),
    ({"maxlen": 1}, [[3], [5], [6]]),
    ({"maxlen": 1, "truncating": "post"}, [[1], [4], [6]]),
])
def test_keras_hand_written_cases(kwargs, expected):
    out = pad_sequences(SEQS, **kwargs)
    np.testing.assert_array_equal(out, np.array(expected))
    assert out.dtype == np.int32


def test_keras_doc_example_post_pre():
    out = pad_sequences([[1, 2, 3], [1, 2], [1]], maxlen=2, padding="post", truncating="pre")
    np.testing.assert_array_equal(out, [[2, 3], [1, 2], [1, 0]])


def test_empty_sequences_and_dtype():
    out = pad_sequences([[], [7, 8]], dtype="float32", value=0.5)
    np.testing.assert_array_equal(out, [[0.5, 0.5], [7, 8]])
    assert out.dtype == np.float32
    assert pad_sequences([[], []]).shape == (2, 0)
    assert pad_sequences([], maxlen=3).shape == (0, 3)


def test_int32_truncates_floats_like_keras():
    np.testing.assert_array_equal(pad_sequences([[1.7, 2.2]]), [[1, 2]])


def test_items_with_shape():
    seqs = [np.ones((2, 3)), np.full((1, 3), 2.0)]
    out = pad_sequences(seqs, dtype="float32")
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out[1, 0], 0)
    np.testing.assert_array_equal(out[1, 1], 2)


def test_numpy_array_input():
    out = pad_sequences([np.array([1, 2, 3]), np.array([4])], maxlen=2, padding="post")
    np.testing.assert_array_equal(out, [[2, 3], [4, 0]])


def _reference(seqs, maxlen, padding, truncating, value):
    """Pure-Python statement of Keras' rule, row by row."""
    if maxlen is None:
        maxlen = max((len(s) for s in seqs), default=0)
    rows = []
    for s in seqs:
        kept = list(s)[-maxlen:] if truncating == "pre" else list(s)[:maxlen]
        if not s:
            kept = []
        pad = [value] * (maxlen - len(kept))
        rows.append(pad + kept if padding == "pre" else kept + pad)
    return rows


@given(
    seqs=st.lists(st.lists(st.integers(-1000, 1000), max_size=12), min_size=1, max_size=8),
    maxlen=st.one_of(st.none(), st.integers(1, 15)),
    padding=st.sampled_from(["pre", "post"]),
    truncating=st.sampled_from(["pre", "post"]),
    value=st.integers(-5, 5),
)
def test_matches_reference_rule(seqs, maxlen, padding, truncating, value):
    out = pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating,
                        value=value)
    expected = _reference(seqs, maxlen, padding, truncating, value)
    assert out.tolist() == expected
    # every row keeps min(len, maxlen) real items
    width = out.shape[1]
    for s, row in zip(seqs, out):
        assert len(row) == width


@given(seqs=st.lists(st.lists(st.integers(1, 50), min_size=1, max_size=10), min_size=1,
                     max_size=6))
def test_pre_padding_keeps_the_end(seqs):
    out = pad_sequences(seqs, maxlen=3)
    for s, row in zip(seqs, out):
        assert row[-1] == s[-1]  # the last token always survives the defaults


def test_against_keras_if_installed():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    seqs = [rng.integers(1, 9, size=rng.integers(0, 7)).tolist() for _ in range(20)]
    for padding in ("pre", "post"):
        for truncating in ("pre", "post"):
            for maxlen in (None, 1, 3, 8):
                ours = pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating)
                theirs = keras.utils.pad_sequences(seqs, maxlen=maxlen, padding=padding,
                                                   truncating=truncating)
                np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("kwargs, match", [
    ({"maxlen": 0}, "maxlen"),
    ({"maxlen": -2}, "maxlen"),
    ({"maxlen": 2.5}, "maxlen"),
    ({"padding": "middle"}, "padding"),
    ({"truncating": "both"}, "truncating"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pad_sequences(SEQS, **kwargs)


def test_bad_sequences():
    with pytest.raises(TypeError, match="sequences"):
        pad_sequences("hello")
    with pytest.raises(TypeError, match=r"sequences\[1\]"):
        pad_sequences([[1], "ab"])
    with pytest.raises(TypeError, match=r"sequences\[0\]"):
        pad_sequences([5, [1]])
    with pytest.raises(ValueError, match=r"sequences\[1\]"):
        pad_sequences([np.ones((2, 3)), np.ones((2, 4))], dtype="float32")
