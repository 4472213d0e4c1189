"""Every primitive op passes a float64 finite-difference gradcheck on
hypothesis-generated shapes, broadcasting included."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp.autograd import ops
from tests.helpers import check_grad, t64

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


@st.composite
def broadcast_pair(draw):
    """Two shapes that broadcast together (some axes 1, some dropped)."""
    shape = draw(shapes)
    other = []
    for n in shape:
        other.append(draw(st.sampled_from([n, 1])))
    drop = draw(st.integers(0, len(other) - 1))
    return shape, tuple(other[drop:])


def rnd(shape, seed=0, low=None):
    r = np.random.default_rng(seed).standard_normal(shape)
    if low is not None:
        r = np.abs(r) + low
    return r


@pytest.mark.parametrize("name,fn", [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
    ("maximum", lambda a, b: ops.maximum(a, b)),
    ("pow", lambda a, b: a ** b),
])
@given(pair=broadcast_pair(), swap=st.booleans())
def test_binary_ops_with_broadcasting(name, fn, pair, swap):
    sa, sb = pair if not swap else pair[::-1]
    positive = name in ("div", "pow")
    a = t64(rnd(sa, 1, low=0.5 if positive else None))
    b = t64(rnd(sb, 2, low=0.5 if positive else None))
    check_grad(name, fn, [a, b])


@pytest.mark.parametrize("name,fn,positive", [
    ("neg", lambda x: -x, False),
    ("exp", lambda x: x.exp(), False),
    ("log", lambda x: x.log(), True),
    ("sqrt", lambda x: x.sqrt(), True),
    ("abs", lambda x: x.abs(), True),
    ("tanh", lambda x: x.tanh(), False),
    ("sigmoid", lambda x: x.sigmoid(), False),
    ("relu", lambda x: x.relu(), True),
    ("clip", lambda x: x.clip(-0.5, 0.5), False),
    ("pow_scalar", lambda x: x ** 3, False),
    ("scalar_ops", lambda x: (2.0 - x) * 3.0 / (1.5 + x * x), False),
])
@given(shape=shapes)
def test_unary_ops(name, fn, positive, shape):
    x = rnd(shape, 3, low=0.2 if positive else None)
    if name == "clip":  # keep away from the kinks at ±0.5
        x = np.where(np.abs(np.abs(x) - 0.5) < 1e-3, x + 0.01, x)
    check_grad(name, fn, [t64(x)])


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
@given(shape=shapes, data=st.data())
def test_softmax_family(name, shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    fn = {"softmax": lambda x: x.softmax(axis=axis),
          "log_softmax": lambda x: x.log_softmax(axis=axis),
          "logsumexp": lambda x: x.logsumexp(axis=axis)}[name]
    check_grad(name, fn, [t64(rnd(shape, 4))])


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
@given(shape=shapes, data=st.data())
def test_reductions(name, shape, data):
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    keepdims = data.draw(st.booleans())
    fn = lambda x: getattr(x, name)(axis=axis, keepdims=keepdims)  # noqa: E731
    check_grad(name, fn, [t64(rnd(shape, 5))])


def test_max_splits_gradient_between_ties():
    x = tn.tensor(np.array([1.0, 3.0, 3.0]), requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad, [0.0, 0.5, 0.5])


@given(b=st.integers(1, 3), m=st.integers(1, 4), k=st.integers(1, 4), n=st.integers(1, 4),
       batched=st.sampled_from(["none", "both", "left", "right"]))
def test_matmul_batched_and_broadcast(b, m, k, n, batched):
    sa = (b, m, k) if batched in ("both", "left") else (m, k)
    sb = (b, k, n) if batched in ("both", "right") else (k, n)
    check_grad("matmul", lambda x, y: x @ y, [t64(rnd(sa, 6)), t64(rnd(sb, 7))])


def test_matmul_vectors():
    check_grad("matmul", lambda x, y: x @ y, [t64(rnd((3,), 1)), t64(rnd((3, 2), 2))])
    check_grad("matmul", lambda x, y: x @ y, [t64(rnd((2, 3), 1)), t64(rnd((3,), 2))])
    check_grad("matmul", lambda x, y: x @ y, [t64(rnd((3,), 1)), t64(rnd((3,), 2))])


@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=3).map(tuple))
def test_shape_ops(shape):
    x = t64(rnd(shape, 8))
    n = int(np.prod(shape))
    check_grad("reshape", lambda x: x.reshape(n, 1), [x])
    check_grad("transpose", lambda x: x.transpose(), [x])
    check_grad("transpose", lambda x: x.transpose(tuple(range(len(shape)))[::-1]), [x])
    check_grad("swapaxes", lambda x: x.swapaxes(0, -1), [x])
    check_grad("expand_dims", lambda x: x.expand_dims(1), [x])
    check_grad("squeeze", lambda x: x.expand_dims(0).squeeze(0), [x])
    check_grad("pad", lambda x: x.pad([(1, 0)] + [(0, 2)] * (len(shape) - 1)), [x])


@given(shape=st.lists(st.integers(2, 4), min_size=1, max_size=3).map(tuple))
def test_indexing_basic_and_integer_arrays(shape):
    x = t64(rnd(shape, 9))
    check_grad("getitem", lambda x: x[1:], [x])
    check_grad("getitem", lambda x: x[..., ::-1], [x])
    idx = np.array([0, 1, 1, 0, 1])  # repeated indices must accumulate
    check_grad("getitem", lambda x: x[idx], [x])


def test_indexing_repeated_ids_accumulate():
    x = tn.tensor(np.zeros(4), requires_grad=True)
    x[np.array([2, 2, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 3.0, 0.0])


def test_indexing_with_integer_tensor_and_tuple():
    x = t64(rnd((3, 4), 10))
    rows = tn.tensor(np.array([0, 2, 2]))
    cols = np.array([1, 3, 1])
    check_grad("getitem", lambda x: x[rows, cols], [x])


@given(n=st.integers(1, 4), axis=st.integers(0, 1))
def test_concat_and_stack(n, axis):
    xs = [t64(rnd((2, 3), i)) for i in range(n)]
    check_grad("concat", lambda *xs: ops.concat(list(xs), axis=axis), xs)
    check_grad("stack", lambda *xs: ops.stack(list(xs), axis=axis), xs)


@given(pair=broadcast_pair())
def test_where(pair):
    sa, sb = pair
    cond = np.random.default_rng(0).random(sa) > 0.5
    check_grad("where", lambda a, b: ops.where(cond, a, b), [t64(rnd(sa, 1)), t64(rnd(sb, 2))])


def test_cast_keeps_gradient_dtype():
    x = tn.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = x.astype(np.float64) * 2.0
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [2, 2, 2])


def test_broadcast_to():
    x = t64(rnd((1, 3, 1), 3))
    check_grad("broadcast_to", lambda x: ops.broadcast_to(x, (2, 4, 3, 5)), [x])
    with pytest.raises(ValueError, match=r"cannot broadcast shape \(1, 3, 1\) to \(2, 4\)"):
        ops.broadcast_to(x, (2, 4))
