"""The primitive ops agree with torch.autograd (forward and gradients, float64)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp.autograd import ops

torch = pytest.importorskip("torch")

CASES = {
    # name: (tinynlp fn, torch fn, input shapes, positive inputs?)
    "add": (lambda a, b: a + b, lambda a, b: a + b, [(3, 4), (4,)], False),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, [(3, 1), (1, 4)], False),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, [(2, 3, 4), (3, 1)], False),
    "div": (lambda a, b: a / b, lambda a, b: a / b, [(3, 4), (3, 4)], True),
    "pow": (lambda a, b: a ** b, lambda a, b: a ** b, [(3, 4), (4,)], True),
    "matmul": (lambda a, b: a @ b, lambda a, b: a @ b, [(2, 3, 4), (4, 5)], False),
    "maximum": (ops.maximum, torch.maximum, [(3, 4), (3, 4)], False),
    "exp": (lambda x: x.exp(), torch.exp, [(3, 4)], False),
    "log": (lambda x: x.log(), torch.log, [(3, 4)], True),
    "sqrt": (lambda x: x.sqrt(), torch.sqrt, [(3, 4)], True),
    "tanh": (lambda x: x.tanh(), torch.tanh, [(3, 4)], False),
    "sigmoid": (lambda x: x.sigmoid(), torch.sigmoid, [(3, 4)], False),
    "relu": (lambda x: x.relu(), torch.relu, [(3, 4)], False),
    "softmax": (lambda x: x.softmax(axis=1), lambda x: torch.softmax(x, 1), [(3, 4)], False),
    "log_softmax": (lambda x: x.log_softmax(axis=-1), lambda x: torch.log_softmax(x, -1),
                    [(3, 4)], False),
    "logsumexp": (lambda x: x.logsumexp(axis=0), lambda x: torch.logsumexp(x, 0), [(3, 4)], False),
    "sum": (lambda x: x.sum(axis=1, keepdims=True), lambda x: x.sum(1, keepdim=True),
            [(3, 4)], False),
    "mean": (lambda x: x.mean(axis=(0, 2)), lambda x: x.mean((0, 2)), [(2, 3, 4)], False),
    "max": (lambda x: x.max(axis=1), lambda x: torch.amax(x, 1), [(3, 4)], False),
    "min": (lambda x: x.min(axis=0), lambda x: torch.amin(x, 0), [(3, 4)], False),
    "transpose": (lambda x: x.transpose(2, 0, 1), lambda x: x.permute(2, 0, 1), [(2, 3, 4)],
                  False),
    "getitem": (lambda x: x[np.array([0, 2, 2])], lambda x: x[torch.tensor([0, 2, 2])],
                [(3, 4)], False),
    "concat": (lambda a, b: ops.concat([a, b], axis=1), lambda a, b: torch.cat([a, b], 1),
               [(2, 3), (2, 2)], False),
    "stack": (lambda a, b: ops.stack([a, b], axis=1), lambda a, b: torch.stack([a, b], 1),
              [(2, 3), (2, 3)], False),
    "clip": (lambda x: x.clip(-0.3, 0.4), lambda x: x.clamp(-0.3, 0.4), [(5, 4)], False),
    "pad": (lambda x: x.pad([(1, 2), (0, 1)]),
            lambda x: torch.nn.functional.pad(x, (0, 1, 1, 2)), [(3, 4)], False),
}


@pytest.mark.parametrize("name", sorted(CASES))
@given(seed=st.integers(0, 2**16))
def test_matches_torch(name, seed):
    fn, tfn, shapes, positive = CASES[name]
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    if positive:
        arrays = [np.abs(a) + 0.3 for a in arrays]
    ours = [tn.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = fn(*ours), tfn(*theirs)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    cot = rng.standard_normal(out.shape)
    out.backward(cot)
    tout.backward(torch.tensor(cot))
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad, t.grad.numpy(), rtol=1e-9, atol=1e-12)
