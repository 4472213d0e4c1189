import math

import numpy as np
import pytest

import tinynlp as tn
from tinynlp import functional as F
from tests.helpers import check_grad, t64

X = np.array([[-3.0, -1.2, -0.3, 0.2], [0.7, 1.5, 2.5, -0.05]])


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh", "elu", "selu", "leaky_relu", "softplus",
                                  "softsign", "silu"])
def test_gradcheck(name):
    fn = {"gelu_tanh": lambda x: F.gelu(x, approximate=True)}.get(name, getattr(F, name, None))
    check_grad(name, fn, [t64(X)])


def _erf_gelu(v):
    return v * 0.5 * (1 + math.erf(v / math.sqrt(2)))


@pytest.mark.parametrize("fn,formula", [
    (F.gelu, _erf_gelu),
    (lambda x: F.gelu(x, approximate=True),
     lambda v: 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))),
    (F.elu, lambda v: v if v > 0 else math.exp(v) - 1),
    (lambda x: F.elu(x, alpha=0.5), lambda v: v if v > 0 else 0.5 * (math.exp(v) - 1)),
    (F.selu, lambda v: 1.0507009873554805 * (v if v > 0 else 1.6732632423543772 * (math.exp(v) - 1))),
    (F.leaky_relu, lambda v: v if v > 0 else 0.2 * v),
    (F.softplus, lambda v: math.log1p(math.exp(v))),
    (F.softsign, lambda v: v / (1 + abs(v))),
    (F.silu, lambda v: v / (1 + math.exp(-v))),
])
def test_values_match_formula(fn, formula):
    got = fn(tn.tensor(X)).data
    want = np.vectorize(formula)(X)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_softplus_does_not_overflow():
    y = F.softplus(tn.tensor(np.array([-1000.0, 1000.0], dtype=np.float32)))
    np.testing.assert_allclose(y.data, [0.0, 1000.0])


@pytest.mark.parametrize("name", ["gelu", "elu", "selu", "leaky_relu", "softplus", "softsign",
                                  "silu", "relu", "tanh", "sigmoid", "softmax"])
def test_float32_stays_float32(name):
    x = tn.tensor(X.astype(np.float32), requires_grad=True)
    y = F.get_activation(name)(x)
    assert y.dtype == np.float32
    y.backward(np.ones(y.shape, dtype=np.float32))
    assert x.grad.dtype == np.float32


def test_get_activation_names_and_callables():
    x = tn.tensor(X)
    assert F.get_activation(None)(x) is x
    assert F.get_activation("linear")(x) is x
    for name in ["relu", "tanh", "sigmoid", "softmax", "gelu", "elu"]:
        assert callable(F.get_activation(name))
    np.testing.assert_allclose(F.get_activation("ReLU")(x).data, np.maximum(X, 0))
    np.testing.assert_allclose(F.get_activation("tanh")(x).data, np.tanh(X))
    f = lambda t: t * 2  # noqa: E731
    assert F.get_activation(f) is f


def test_get_activation_errors():
    with pytest.raises(ValueError, match="unknown activation 'relux'"):
        F.get_activation("relux")
    with pytest.raises(TypeError, match="expected a name"):
        F.get_activation(3)
