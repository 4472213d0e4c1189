"""Knowledge distillation: Hinton's loss (values, gradients) and the training loop."""

import numpy as np
import pytest

import tinynlp as tn
from tests.helpers import check_grad, t64
from tinynlp import compress as C
from tinynlp.layers.base import Layer
from tinynlp.layers.core import Dense


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_loss_value_multiclass_logits():
    rng = np.random.default_rng(0)
    s, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    y = np.array([0, 2, 1, 1])
    T, a = 3.0, 0.25
    got = C.distillation_loss(y, t64(s), t, temperature=T, alpha=a, from_logits=True).item()
    p, q = _softmax(t / T), _softmax(s / T)
    kl = np.mean(np.sum(p * (np.log(p) - np.log(q)), -1))
    ce = np.mean(-np.log(_softmax(s)[np.arange(4), y]))
    assert got == pytest.approx(a * ce + (1 - a) * T * T * kl, rel=1e-10)


def test_loss_value_binary_probabilities_two_class_form():
    rng = np.random.default_rng(1)
    zs, zt = rng.standard_normal((5, 1)), rng.standard_normal((5, 1))
    ps, pt = 1 / (1 + np.exp(-zs)), 1 / (1 + np.exp(-zt))
    y = np.array([[1], [0], [1], [1], [0]], float)
    T, a = 2.0, 0.5
    got = C.distillation_loss(y, t64(ps), pt, temperature=T, alpha=a).item()
    two = lambda z: _softmax(np.concatenate([np.zeros_like(z), z], -1) / T)  # noqa: E731
    p, q = two(zt), two(zs)
    kl = np.mean(np.sum(p * (np.log(p) - np.log(q)), -1))
    ce = np.mean(-(y * np.log(ps) + (1 - y) * np.log(1 - ps)))
    assert got == pytest.approx(a * ce + (1 - a) * T * T * kl, rel=1e-6)
    # logits and probabilities give the same loss
    got_logits = C.distillation_loss(y, t64(zs), zt, temperature=T, alpha=a,
                                     from_logits=True).item()
    assert got_logits == pytest.approx(got, rel=1e-6)


def test_loss_is_minimal_when_student_matches_teacher():
    t = np.random.default_rng(2).standard_normal((6, 4))
    y = np.zeros(6, int)
    soft_only = C.distillation_loss(y, t64(t), t, temperature=4.0, alpha=0.0, from_logits=True)
    assert abs(soft_only.item()) < 1e-12


@pytest.mark.parametrize("case", ["multiclass-logits", "multiclass-probs", "binary-probs",
                                  "binary-logits", "onehot"])
def test_distillation_loss_gradcheck(case):
    rng = np.random.default_rng(3)
    if case.startswith("binary"):
        z = rng.standard_normal((5, 1))
        out = z if case.endswith("logits") else 1 / (1 + np.exp(-z))
        teacher = rng.standard_normal((5, 1))
        teacher = teacher if case.endswith("logits") else 1 / (1 + np.exp(-teacher))
        y = rng.integers(0, 2, (5, 1)).astype(float)
    else:
        z = rng.standard_normal((5, 4))
        out = z if case.endswith("logits") else _softmax(z)
        teacher = rng.standard_normal((5, 4))
        teacher = teacher if case.endswith("logits") else _softmax(teacher)
        y = rng.integers(0, 4, 5)
        if case == "onehot":
            y = np.eye(4)[y]
    logits = case.endswith("logits")
    check_grad("distillation_loss", lambda s: C.distillation_loss(
        y, s, teacher, temperature=2.5, alpha=0.3, from_logits=logits), [t64(out)])


def test_soft_gradient_is_T_times_q_minus_p():
    rng = np.random.default_rng(4)
    s, t = t64(rng.standard_normal((3, 5))), rng.standard_normal((3, 5))
    T = 3.0
    C.distillation_loss(np.zeros(3, int), s, t, temperature=T, alpha=0.0,
                        from_logits=True).backward()
    expected = T * (_softmax(s.data / T) - _softmax(t / T)) / 3
    np.testing.assert_allclose(s.grad, expected, rtol=1e-10, atol=1e-12)


def test_bad_arguments():
    s = t64(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="temperature"):
        C.distillation_loss([0, 1], s, np.zeros((2, 3)), temperature=0)
    with pytest.raises(ValueError, match="alpha"):
        C.distillation_loss([0, 1], s, np.zeros((2, 3)), alpha=1.5)
    with pytest.raises(ValueError, match="teacher output shape"):
        C.distillation_loss([0, 1], s, np.zeros((2, 4)))


def test_pack_and_unpack():
    loss = C.DistillationLoss(temperature=2.0, alpha=0.5)
    y = np.array([1, 0, 1])
    t = np.array([[0.9], [0.2], [0.6]], np.float32)
    packed = loss.pack(y, t)
    assert packed.shape == (3, 2)
    yy, tt = loss.unpack(packed, (3, 1))
    np.testing.assert_array_equal(yy.ravel(), y)
    np.testing.assert_array_equal(tt, t)
    ys = np.array([2, 0])
    yy, tt = loss.unpack(loss.pack(ys, np.eye(3)[:2]), (2, 3))
    assert yy.dtype == np.int64 and list(yy) == [2, 0]
    direct = C.distillation_loss(y.reshape(3, 1), t64(t), t)
    via = loss(packed, t64(t))
    assert via.item() == pytest.approx(direct.item())
    with pytest.raises(ValueError, match="pack"):
        loss(np.zeros((3, 1)), t64(t))


class MLP(Layer):
    def __init__(self, hidden, **kw):
        super().__init__(**kw)
        self.h = Dense(hidden, activation="relu")
        self.o = Dense(1, activation="sigmoid")

    def call(self, x, training=False):
        return self.o(self.h(x))


def test_distill_student_beats_chance_on_a_synthetic_task():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 6)).astype(np.float32)
    y = ((x[:, 0] * x[:, 1] + x[:, 2]) > 0).astype(np.float32).reshape(-1, 1)
    # a "teacher" that knows the rule (its sigmoid output is a smooth version of it)
    teacher = Dense(1, activation="sigmoid")
    teacher(x)
    teacher.kernel.data[...] = np.array([[0], [0], [3], [0], [0], [0]], np.float32)
    student = MLP(8)
    hist = C.distill(teacher, student, x[:300], y[:300], temperature=2.0, alpha=0.5, epochs=15,
                     batch_size=32, optimizer=tn.optimizers.Adam(learning_rate=0.01),
                     validation_data=(x[300:], y[300:]), verbose=0)
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(hist.history["loss"]) == 15
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert hist.history["val_accuracy"][-1] > 0.75
