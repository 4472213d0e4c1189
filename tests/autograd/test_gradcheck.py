"""gradcheck itself must catch wrong gradients, including ones a ``.sum()`` hides."""

import numpy as np
import pytest

import tinynlp as tn
from tinynlp.autograd import Function


class WrongSoftmax(Function):
    """Softmax whose backward forgets the coupling term: s ⊙ g (wrong)."""

    @staticmethod
    def forward(ctx, x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        s = e / e.sum(axis=-1, keepdims=True)
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved
        return s * g - s * s.sum(axis=-1, keepdims=True) * g.mean()  # sums to ~0 too


class OffByOne(Function):
    """y = 3x, but backward claims 3 everywhere except the last element."""

    @staticmethod
    def forward(ctx, x):
        return 3.0 * x

    @staticmethod
    def backward(ctx, g):
        out = 3.0 * g
        out.reshape(-1)[-1] *= 1.01
        return out


def test_random_cotangent_catches_error_that_sum_hides():
    x = tn.tensor(np.random.default_rng(0).standard_normal((2, 5)), requires_grad=True)
    # checked through a plain sum, the wrong backward looks right: softmax sums
    # to 1, so the true gradient of the sum is 0, and so is this one
    assert tn.gradcheck(lambda x: WrongSoftmax.apply(x).sum(), [x])
    with pytest.raises(tn.GradcheckError, match="input 0"):
        tn.gradcheck(lambda x: WrongSoftmax.apply(x), [x])


def test_reports_worst_index_and_relative_error():
    x = tn.tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)
    with pytest.raises(tn.GradcheckError) as info:
        tn.gradcheck(lambda x: OffByOne.apply(x), [x])
    msg = str(info.value)
    assert "(2, 3)" in msg and "relative error" in msg


def test_random_directions_for_large_inputs():
    x = tn.tensor(np.random.default_rng(2).standard_normal((40, 40)), requires_grad=True)
    assert tn.gradcheck(lambda x: (x * x).tanh(), [x], max_elements=100)
    with pytest.raises(tn.GradcheckError, match="random direction"):
        tn.gradcheck(lambda x: OffByOne.apply(x), [x], max_elements=100, n_directions=4,
                     atol=1e-8, rtol=1e-7)


def test_requires_float64():
    x = tn.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="float64"):
        tn.gradcheck(lambda x: x * 2.0, [x])


def test_return_false_instead_of_raising():
    x = tn.tensor(np.ones(2), requires_grad=True)
    assert tn.gradcheck(lambda x: OffByOne.apply(x), [x], raise_exception=False) is False


def test_non_contiguous_inputs_are_perturbed_in_place():
    # a transposed (Fortran-ordered) array: reshape(-1) would be a copy and the
    # finite differences would silently come out zero
    data = np.asfortranarray(np.random.default_rng(3).standard_normal((3, 4)))
    x = tn.Tensor(data, requires_grad=True)  # keeps the array as it is (no copy)
    assert not x.data.flags.c_contiguous
    with pytest.raises(tn.GradcheckError):
        tn.gradcheck(lambda x: OffByOne.apply(x), [x])
    assert tn.gradcheck(lambda x: (x * x).tanh(), [x])
