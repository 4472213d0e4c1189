"""Optimizers: construction, state, in-place updates, clipping, sparse rows, schedules."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp.autograd.tensor import RowSparseGrad
from tinynlp.layers.base import Parameter
from tinynlp.optimizers import clipping, schedules

ALL = [tn.optimizers.SGD, tn.optimizers.Adam, tn.optimizers.AdamW, tn.optimizers.RMSprop,
       tn.optimizers.Adagrad]


def _param(shape=(3, 2), seed=0, dtype=np.float32, sparse=False):
    return Parameter(np.random.default_rng(seed).standard_normal(shape).astype(dtype),
                     name="p", sparse=sparse)


@pytest.mark.parametrize("name,cls", [("adam", tn.optimizers.Adam), ("SGD", tn.optimizers.SGD),
                                      ("rmsprop", tn.optimizers.RMSprop),
                                      ("adagrad", tn.optimizers.Adagrad),
                                      ("adamw", tn.optimizers.AdamW)])
def test_get_by_name(name, cls):
    assert type(tn.optimizers.get(name)) is cls
    opt = cls()
    assert tn.optimizers.get(opt) is opt
    rebuilt = tn.optimizers.get(tn.optimizers.serialize(opt))
    assert type(rebuilt) is cls and rebuilt.get_config() == opt.get_config()


def test_keras_defaults():
    assert tn.optimizers.SGD().learning_rate == 0.01
    adam = tn.optimizers.Adam()
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (0.001, 0.9, 0.999, 1e-7)
    assert tn.optimizers.AdamW().weight_decay == 0.004
    rms = tn.optimizers.RMSprop()
    assert (rms.learning_rate, rms.rho, rms.momentum, rms.epsilon) == (0.001, 0.9, 0.0, 1e-7)
    ada = tn.optimizers.Adagrad()
    assert (ada.learning_rate, ada.initial_accumulator_value) == (0.001, 0.1)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown optimizer 'adum'"):
        tn.optimizers.get("adum")
    with pytest.raises(ValueError, match="at most one of clipnorm, clipvalue, global_clipnorm"):
        tn.optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="clipnorm must be a positive number"):
        tn.optimizers.Adam(clipnorm=0)
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0"):
        tn.optimizers.SGD(nesterov=True)
    with pytest.raises(ValueError, match="beta_1 must be in"):
        tn.optimizers.Adam(beta_1=1.0)
    with pytest.raises(ValueError, match="learning_rate must be a non-negative"):
        tn.optimizers.Adam(learning_rate=-1)
    p = _param()
    p.grad = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"gradient of 'p' has shape \(2, 3\), parameter \(3, 2\)"):
        tn.optimizers.SGD().step([p])


@pytest.mark.parametrize("cls", ALL)
def test_skips_frozen_and_gradless_params_and_updates_in_place(cls):
    a, b, c = _param(seed=1), _param(seed=2), _param(seed=3)
    b.set_trainable(False)
    b.grad = np.ones_like(b.data)          # ignored: frozen
    a.grad = np.ones_like(a.data)
    buf = a.data
    b0, c0 = b.data.copy(), c.data.copy()
    opt = cls(learning_rate=0.1)
    opt.step([a, b, c])
    assert a.data is buf                   # same array, updated in place
    assert not np.allclose(a.data, _param(seed=1).data)
    np.testing.assert_array_equal(b.data, b0)
    np.testing.assert_array_equal(c.data, c0)
    assert opt.iterations == 1
    opt.zero_grad([a])
    assert a.grad is None


@pytest.mark.parametrize("cls", ALL)
def test_step_allocates_no_parameter_sized_arrays(cls):
    """After the first step (state + scratch allocated) a step allocates < 1/4 of a param."""
    p = _param((256, 256))
    p.grad = np.random.default_rng(0).standard_normal(p.shape).astype(np.float32)
    kw = {"momentum": 0.9} if cls in (tn.optimizers.SGD, tn.optimizers.RMSprop) else {}
    opt = cls(learning_rate=0.01, **kw)
    opt.step([p])
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            opt.step([p])
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < p.data.nbytes / 4, f"{cls.__name__} allocated {peak} bytes per step"


@pytest.mark.parametrize("cls", ALL)
def test_state_round_trip_continues_identically(cls):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 2)).astype(np.float32) for _ in range(6)]
    p1, p2 = _param(), _param()
    o1 = cls(learning_rate=0.05)
    for g in grads[:3]:
        p1.grad = g.copy()
        o1.step([p1])
    state = o1.get_state([p1])
    assert state["iterations"] == 3
    assert all(isinstance(v, np.ndarray) for s in state["slots"] for v in s.values())
    p2.data[...] = p1.data
    o2 = cls(learning_rate=0.05)
    o2.set_state(state, [p2])
    for g in grads[3:]:
        p1.grad, p2.grad = g.copy(), g.copy()
        o1.step([p1])
        o2.step([p2])
    np.testing.assert_array_equal(p1.data, p2.data)


def test_set_state_validates_shapes_and_slots():
    p = _param()
    opt = tn.optimizers.Adam()
    with pytest.raises(ValueError, match="expects slots"):
        opt.set_state({"iterations": 1, "slots": [{"m": np.zeros((3, 2))}]}, [p])
    with pytest.raises(ValueError, match=r"expects shape \(3, 2\), got \(2, 3\)"):
        opt.set_state({"iterations": 1, "slots": [{"m": np.zeros((2, 3)),
                                                   "v": np.zeros((2, 3))}]}, [p])
    with pytest.raises(ValueError, match="2 parameter slots, the model has 1"):
        opt.set_state({"iterations": 0, "slots": [{}, {}]}, [p])


def test_float64_parameters_stay_float64():
    p = _param(dtype=np.float64)
    p.grad = np.ones_like(p.data)
    for cls in ALL:
        cls().step([p])
        assert p.data.dtype == np.float64


def test_schedule_is_evaluated_per_step():
    sched = schedules.StepDecay(1.0, step_size=2, gamma=0.5)
    opt = tn.optimizers.SGD(sched)
    p = Parameter(np.zeros(1))
    lrs = []
    for _ in range(5):
        lrs.append(opt.learning_rate)
        p.grad = np.ones(1)
        opt.step([p])
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert p.data[0] == pytest.approx(-(1 + 1 + 0.5 + 0.5 + 0.25))
    cfg = tn.optimizers.serialize(opt)
    rebuilt = tn.optimizers.get(cfg)
    assert rebuilt.lr_at(4) == 0.25


def test_schedules_formulas_and_validation():
    cos = schedules.CosineDecay(1.0, decay_steps=10, alpha=0.2)
    assert cos(0) == 1.0 and cos(10) == pytest.approx(0.2) and cos(50) == pytest.approx(0.2)
    assert cos(5) == pytest.approx(0.2 + 0.8 * 0.5)
    exp = schedules.ExponentialDecay(1.0, decay_steps=4, decay_rate=0.5, staircase=True)
    assert [exp(i) for i in (0, 3, 4, 8)] == [1.0, 1.0, 0.5, 0.25]
    warm = schedules.LinearWarmup(schedules.StepDecay(0.1, 10, 0.5), warmup_steps=4)
    assert [warm(i) for i in range(5)] == pytest.approx([0.0, 0.025, 0.05, 0.075, 0.1])
    assert warm(14) == pytest.approx(0.05)
    assert schedules.deserialize(schedules.serialize(warm))(14) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="step_size must be a positive integer"):
        schedules.StepDecay(0.1, 0)
    assert schedules.ReduceLROnPlateau is tn.callbacks.ReduceLROnPlateau


# ---- clipping ------------------------------------------------------------------------

arrays = st.lists(st.floats(-100, 100, allow_nan=False, width=64), min_size=1, max_size=12)


@given(arrays, arrays, st.floats(0.01, 50))
def test_global_norm_clipping_caps_the_norm_and_keeps_direction(a, b, c):
    grads = [np.array(a), np.array(b)]
    before = [g.copy() for g in grads]
    norm = clipping.global_norm(grads)
    clipping.clip_by_global_norm(grads, c)
    after = clipping.global_norm(grads)
    assert after <= c * (1 + 1e-9) + 1e-12
    if norm <= c:
        for g, g0 in zip(grads, before):
            np.testing.assert_array_equal(g, g0)
    else:
        assert after == pytest.approx(c, rel=1e-9)
        for g, g0 in zip(grads, before):
            np.testing.assert_allclose(g, g0 * (c / norm), rtol=1e-12, atol=1e-300)


@given(arrays, st.floats(0.01, 50))
def test_value_and_norm_clipping(a, c):
    g = np.array(a)
    v = g.copy()
    clipping.clip_by_value([v], c)
    assert np.all(np.abs(v) <= c) and np.all(v[np.abs(g) <= c] == g[np.abs(g) <= c])
    n = g.copy()
    clipping.clip_by_norm([n], c)
    assert np.linalg.norm(n) <= c * (1 + 1e-9) + 1e-12


def test_clipping_row_sparse_gradients_uses_the_rows():
    p = _param((5, 2), sparse=True)
    p0 = p.data.copy()
    p.grad = RowSparseGrad([1, 1, 3], np.array([[3.0, 0], [0, 0], [0, 4.0]], np.float32), (5, 2))
    tn.optimizers.SGD(1.0, global_clipnorm=1.0).step([p])
    delta = p0 - p.data
    np.testing.assert_allclose(delta[[1, 3]], [[0.6, 0], [0, 0.8]], rtol=1e-6)
    assert np.all(delta[[0, 2, 4]] == 0)


# ---- row-sparse (embedding) updates ---------------------------------------------------

def test_lazy_adam_leaves_untouched_rows_and_moments_alone():
    p = _param((6, 3), sparse=True)
    opt = tn.optimizers.Adam(0.1)
    p.grad = RowSparseGrad([0, 1, 2, 3, 4, 5], np.ones((6, 3), np.float32), (6, 3))
    opt.step([p])
    state_before = opt.get_state([p])
    m_before = state_before["slots"][0]["m"]
    w_before = p.data.copy()
    p.grad = RowSparseGrad([2, 2], np.ones((2, 3), np.float32), (6, 3))
    opt.step([p])
    m_after = opt.get_state([p])["slots"][0]["m"]
    untouched = [0, 1, 3, 4, 5]
    np.testing.assert_array_equal(p.data[untouched], w_before[untouched])
    np.testing.assert_array_equal(m_after[untouched], m_before[untouched])
    # the dense rule would have moved those rows by the decaying momentum
    q = Parameter(w_before.copy())
    dense = tn.optimizers.Adam(0.1)
    dense.set_state(state_before, [q])
    g = np.zeros((6, 3), np.float32)
    g[2] = 2.0
    q.grad = g
    dense.step([q])
    assert not np.allclose(q.data[untouched], w_before[untouched])
    np.testing.assert_allclose(q.data[2], p.data[2], rtol=1e-6)   # touched row: same update


def test_sparse_sgd_handles_repeated_ids_exactly():
    p = _param((4, 2), sparse=True)
    dense = Parameter(p.data.copy())
    vals = np.arange(6, dtype=np.float32).reshape(3, 2)
    p.grad = RowSparseGrad([3, 0, 3], vals, (4, 2))
    dense.grad = p.grad.to_dense()
    tn.optimizers.SGD(0.5).step([p])
    tn.optimizers.SGD(0.5).step([dense])
    np.testing.assert_allclose(p.data, dense.data, rtol=1e-6)


def test_state_without_params_follows_first_update_order():
    rng = np.random.default_rng(0)
    a1, b1 = _param((2, 2), 1), _param((3,), 2)
    a2, b2 = _param((2, 2), 1), _param((3,), 2)
    o1 = tn.optimizers.Adam(0.1)
    for _ in range(2):
        a1.grad, b1.grad = rng.standard_normal((2, 2)), rng.standard_normal(3)
        o1.step([a1, b1])
    state = o1.get_state()
    assert [s["m"].shape for s in state["slots"]] == [(2, 2), (3,)]
    o2 = tn.optimizers.Adam(0.1)
    o2.set_state(state)                        # fresh optimizer: applied at the first step
    g = [rng.standard_normal((2, 2)), rng.standard_normal(3)]
    a1.grad, b1.grad = g[0].copy(), g[1].copy()
    a2.data[...], b2.data[...] = a1.data, b1.data
    a2.grad, b2.grad = g[0].copy(), g[1].copy()
    o1.step([a1, b1])
    o2.step([a2, b2])
    np.testing.assert_array_equal(a1.data, a2.data)
    np.testing.assert_array_equal(b1.data, b2.data)


def test_exclude_from_weight_decay_by_name_and_variable():
    kernel = Parameter(np.ones((2, 2)), name="block/dense/kernel")
    bias = Parameter(np.ones(2), name="block/dense/bias")
    emb = Parameter(np.ones((3, 2)), name="gpt/embedding/token_embedding/embeddings")
    opt = tn.optimizers.AdamW(0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.exclude_from_weight_decay(var_list=[emb])
    assert opt.decays(kernel) and not opt.decays(bias) and not opt.decays(emb)
    for p in (kernel, bias, emb):
        p.grad = np.zeros_like(p.data)
    opt.step([kernel, bias, emb])
    np.testing.assert_allclose(kernel.data, 1 - 0.1 * 0.5)   # decayed, zero gradient
    np.testing.assert_array_equal(bias.data, 1)
    np.testing.assert_array_equal(emb.data, 1)
    # kept by name through get_config / from_config (so a saved model resumes the same)
    back = tn.optimizers.get(tn.optimizers.serialize(opt))
    assert back.get_config() == opt.get_config()
    assert not back.decays(bias) and not back.decays(emb) and back.decays(kernel)
    with pytest.raises(ValueError, match="var_names must be a list of non-empty strings"):
        opt.exclude_from_weight_decay(var_names="bias")
    with pytest.raises(ValueError, match="var_list must hold named parameters"):
        opt.exclude_from_weight_decay(var_list=[np.ones(2)])
