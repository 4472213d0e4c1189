"""Recurrent ops: gradchecks, fused == reference, masks, dtypes, errors, converters."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp import functional as F
from tests.helpers import check_grad, t64

CELLS = ("elman", "lstm", "gru")
N_GATES = {"elman": 1, "lstm": 4, "gru": 3}


def make_params(cell, B, T, D, H, rng, scale=0.6, dtype=np.float64):
    """x, states (h0[, c0]), W, U, b as float arrays."""
    g = N_GATES[cell]
    x = rng.standard_normal((B, T, D))
    states = [rng.standard_normal((B, H)) * 0.5 for _ in range(2 if cell == "lstm" else 1)]
    W = rng.standard_normal((D, g * H)) * scale / np.sqrt(D)
    U = rng.standard_normal((H, g * H)) * scale / np.sqrt(H)
    b = rng.standard_normal((2, 3 * H) if cell == "gru" else (g * H,)) * 0.3
    return [a.astype(dtype) for a in (x, *states, W, U, b)]


def op(cell, fused, activation="tanh", mask=None):
    """fn(x, *states, W, U, b) -> tuple of outputs, for the chosen cell / path."""
    if cell == "elman":
        f = F.elman_rnn if fused else F.elman_rnn_reference
        return lambda *a: f(*a, activation=activation, mask=mask)
    if cell == "lstm":
        f = F.lstm if fused else F.lstm_reference
    else:
        f = F.gru if fused else F.gru_reference
    return lambda *a: f(*a, mask=mask)


def run(fn, arrays, seed=0):
    """Forward, then backward of Σ v ⊙ outputs; returns (outputs, input grads)."""
    ins = [t64(a) for a in arrays]
    outs = fn(*ins)
    rng = np.random.default_rng(seed)
    loss = None
    for o in outs:
        term = (o * tn.tensor(rng.standard_normal(o.shape))).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    return [o.data for o in outs], [i.grad for i in ins]


MASKS = {
    "none": None,
    # lengths 4, 2, 0 (post-padding, one empty sequence)
    "post": np.array([[1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 0, 0]], dtype=bool),
    # pre-padding (Keras pad_sequences default) and a hole in the middle
    "pre": np.array([[0, 0, 1, 1], [1, 1, 1, 1], [1, 0, 0, 1]], dtype=bool),
}


# --------------------------------------------------------------------------
# gradchecks
# --------------------------------------------------------------------------

@pytest.mark.parametrize("fused", [True, False], ids=["fused", "reference"])
@pytest.mark.parametrize("mask", list(MASKS), ids=list(MASKS))
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_elman_gradcheck(fused, mask, activation):
    rng = np.random.default_rng(1)
    arrays = make_params("elman", 3, 4, 3, 4, rng, scale=1.2)
    name = "elman_rnn" if fused else "elman_rnn_reference"
    check_grad(name, op("elman", fused, activation, MASKS[mask]), [t64(a) for a in arrays])


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "reference"])
@pytest.mark.parametrize("mask", list(MASKS), ids=list(MASKS))
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_gradcheck(cell, fused, mask):
    rng = np.random.default_rng(2)
    arrays = make_params(cell, 3, 4, 3, 4, rng, scale=1.5)
    name = cell if fused else f"{cell}_reference"
    check_grad(name, op(cell, fused, mask=MASKS[mask]), [t64(a) for a in arrays])


@pytest.mark.parametrize("cell", CELLS)
def test_gradcheck_without_initial_state(cell):
    """h0 (and c0) None: zeros, and the remaining inputs still get the right gradients."""
    rng = np.random.default_rng(3)
    x, *states, W, U, b = make_params(cell, 2, 3, 3, 3, rng)
    n = len(states)
    fn = op(cell, True, mask=MASKS["post"][:2, :3])
    check_grad("elman_rnn" if cell == "elman" else cell,
               lambda x, W, U, b: fn(x, *([None] * n), W, U, b),
               [t64(x), t64(W), t64(U), t64(b)])


# --------------------------------------------------------------------------
# fused == reference
# --------------------------------------------------------------------------

@settings(max_examples=25)
@given(cell=st.sampled_from(CELLS), B=st.integers(1, 4), T=st.integers(1, 6),
       D=st.integers(1, 4), H=st.integers(1, 5),
       activation=st.sampled_from(["tanh", "relu", "sigmoid", "linear"]),
       masked=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_fused_equals_reference(cell, B, T, D, H, activation, masked, seed):
    rng = np.random.default_rng(seed)
    arrays = make_params(cell, B, T, D, H, rng)
    mask = rng.random((B, T)) < 0.6 if masked else None
    out_f, grads_f = run(op(cell, True, activation, mask), arrays)
    out_r, grads_r = run(op(cell, False, activation, mask), arrays)
    for a, r in zip(out_f, out_r):
        np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-12)
    for a, r in zip(grads_f, grads_r):
        np.testing.assert_allclose(a, r, rtol=1e-9, atol=1e-11)


# --------------------------------------------------------------------------
# long sequences: the iterative engine must handle a 2,000-step unroll
# --------------------------------------------------------------------------

@pytest.mark.parametrize("fused", [True, False], ids=["fused", "reference"])
def test_elman_2000_steps(fused):
    rng = np.random.default_rng(4)
    x, h0, W, U, b = make_params("elman", 2, 2000, 3, 4, rng, scale=0.5)
    fn = F.elman_rnn if fused else F.elman_rnn_reference
    ins = [t64(a) for a in (x, h0, W, U, b)]
    hs, h_last = fn(*ins)
    (hs.sum() + h_last.sum()).backward()
    assert hs.shape == (2, 2000, 4)
    for t in ins:
        assert t.grad is not None and np.isfinite(t.grad).all()
    # the gradient really reaches the first step (‖dL/dx_0‖ > 0)
    assert np.abs(ins[0].grad[:, 0]).sum() > 0


def test_elman_2000_steps_fused_equals_reference():
    rng = np.random.default_rng(5)
    arrays = make_params("elman", 2, 2000, 2, 3, rng, scale=0.5)
    out_f, g_f = run(op("elman", True), arrays)
    out_r, g_r = run(op("elman", False), arrays)
    for a, r in zip(out_f + g_f, out_r + g_r):
        np.testing.assert_allclose(a, r, rtol=1e-8, atol=1e-10)


# --------------------------------------------------------------------------
# mask semantics
# --------------------------------------------------------------------------

def _call(cell, fused, arrays, mask=None):
    with tn.no_grad():
        return [o.data for o in op(cell, fused, mask=mask)(*[tn.tensor(a) for a in arrays])]


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "reference"])
@pytest.mark.parametrize("cell", CELLS)
def test_post_padding_equals_truncated_sequence(cell, fused):
    rng = np.random.default_rng(6)
    B, T = 4, 6
    arrays = make_params(cell, B, T, 3, 5, rng)
    lengths = np.array([6, 3, 1, 0])
    mask = F.lengths_to_mask(lengths, T)
    hs, *finals = _call(cell, fused, arrays, mask)
    n_states = len(finals)
    for i, L in enumerate(lengths):
        row = [a[i:i + 1] for a in arrays[:1 + n_states]] + arrays[1 + n_states:]
        np.testing.assert_array_equal(hs[i, L:], 0.0)          # padded outputs are zero
        if L == 0:                                              # empty: the initial state
            for k in range(n_states):
                np.testing.assert_array_equal(finals[k][i], arrays[1 + k][i])
            continue
        row[0] = row[0][:, :L]
        hs_i, *fin_i = _call(cell, fused, row)
        np.testing.assert_allclose(hs[i, :L], hs_i[0], rtol=1e-12, atol=1e-14)
        for k in range(n_states):
            np.testing.assert_allclose(finals[k][i], fin_i[k][0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cell", CELLS)
def test_pre_padding_equals_truncated_sequence(cell):
    rng = np.random.default_rng(7)
    B, T = 3, 5
    arrays = make_params(cell, B, T, 2, 3, rng)
    lengths = np.array([5, 2, 1])
    mask = np.arange(T)[None, :] >= (T - lengths)[:, None]
    hs, *finals = _call(cell, True, arrays, mask)
    n_states = len(finals)
    for i, L in enumerate(lengths):
        row = [a[i:i + 1] for a in arrays[:1 + n_states]] + arrays[1 + n_states:]
        row[0] = row[0][:, T - L:]
        hs_i, *fin_i = _call(cell, True, row)
        np.testing.assert_array_equal(hs[i, :T - L], 0.0)
        np.testing.assert_allclose(hs[i, T - L:], hs_i[0], rtol=1e-12)
        for k in range(n_states):
            np.testing.assert_allclose(finals[k][i], fin_i[k][0], rtol=1e-12)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "reference"])
@pytest.mark.parametrize("cell", CELLS)
def test_masked_steps_get_no_gradient_and_empty_sequence_passes_gradient(cell, fused):
    rng = np.random.default_rng(8)
    arrays = make_params(cell, 3, 4, 2, 3, rng)
    mask = MASKS["post"]                      # lengths 4, 2, 0
    ins = [t64(a) for a in arrays]
    outs = op(cell, fused, mask=mask)(*ins)
    g_last = rng.standard_normal(outs[1].shape)
    (outs[0].sum() * 3.0 + (outs[1] * tn.tensor(g_last)).sum()).backward()
    gx = ins[0].grad
    np.testing.assert_array_equal(gx[1, 2:], 0.0)
    np.testing.assert_array_equal(gx[2], 0.0)
    # the empty sequence: h_last = h0, so dL/dh0 = dL/dh_last exactly
    np.testing.assert_array_equal(ins[1].grad[2], g_last[2])


@pytest.mark.parametrize("cell", CELLS)
def test_fused_ignores_whatever_sits_at_padded_steps(cell):
    """NaN inputs (or NaN output grads) at padded steps leak into nothing."""
    rng = np.random.default_rng(17)
    arrays = make_params(cell, 3, 4, 2, 3, rng)
    mask = MASKS["pre"]
    results = []
    for fill in (0.0, np.nan):
        x = arrays[0].copy()
        x[~mask] = fill
        ins = [t64(a) for a in [x] + arrays[1:]]
        outs = op(cell, True, mask=mask)(*ins)
        v = rng.standard_normal(outs[0].shape) if fill == 0 else results[0][2]
        v = v.copy()
        v[~mask] = fill
        (outs[0] * tn.tensor(v)).sum().backward()
        results.append(([o.data for o in outs], [t.grad for t in ins], v))
    (o0, g0, _), (o1, g1, _) = results
    for a, b in zip(o0 + g0[1:], o1 + g1[1:]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(g1[0][~mask], 0.0)
    np.testing.assert_array_equal(g1[0][mask], g0[0][mask])


@pytest.mark.parametrize("cell", CELLS)
def test_inputs_are_not_modified(cell):
    rng = np.random.default_rng(18)
    arrays = make_params(cell, 3, 1, 2, 3, rng)      # T = 1: x.transpose is contiguous
    copies = [a.copy() for a in arrays]
    ins = [t64(a) for a in arrays]
    outs = op(cell, True, mask=np.array([[True], [False], [True]]))(*ins)
    sum(o.sum() for o in outs).backward()
    for t, a in zip(ins, copies):
        np.testing.assert_array_equal(t.data, a)


@pytest.mark.parametrize("cell", CELLS)
def test_all_true_or_integer_mask_equals_no_mask(cell):
    rng = np.random.default_rng(9)
    arrays = make_params(cell, 2, 3, 2, 3, rng)
    base = _call(cell, True, arrays)
    for mask in (np.ones((2, 3), bool), np.ones((2, 3), np.int64)):
        for a, r in zip(_call(cell, True, arrays, mask), base):
            np.testing.assert_array_equal(a, r)
    as_int = _call(cell, True, arrays, MASKS["post"][:2, :3].astype(np.int32))
    as_bool = _call(cell, True, arrays, MASKS["post"][:2, :3])
    for a, r in zip(as_int, as_bool):
        np.testing.assert_array_equal(a, r)


def test_lengths_to_mask():
    m = F.lengths_to_mask(np.array([3, 0, 1]), maxlen=4)
    np.testing.assert_array_equal(m, [[1, 1, 1, 0], [0, 0, 0, 0], [1, 0, 0, 0]])
    assert m.dtype == bool
    assert F.lengths_to_mask(np.array([2, 5])).shape == (2, 5)
    with pytest.raises(ValueError, match="lengths"):
        F.lengths_to_mask(np.array([1.5]))


# --------------------------------------------------------------------------
# engine integration: missing output grads, retain_graph, no_grad, h0 None
# --------------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
def test_only_final_state_used(cell):
    """hs is dropped (its grad never arrives): the gradient is that of h_last alone."""
    rng = np.random.default_rng(10)
    arrays = make_params(cell, 2, 4, 3, 3, rng)
    grads = []
    for fused in (True, False):
        ins = [t64(a) for a in arrays]
        h_last = op(cell, fused, mask=MASKS["pre"][:2])(*ins)[1]
        (h_last * tn.tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
        grads.append([t.grad for t in ins])
    for a, r in zip(*grads):
        np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_retain_graph_backward_twice_doubles(cell):
    """backward must not overwrite the arrays it saved: a second pass gives the same grads."""
    rng = np.random.default_rng(11)
    arrays = make_params(cell, 2, 3, 2, 3, rng)
    ins = [t64(a) for a in arrays]
    outs = op(cell, True, mask=MASKS["post"][:2, :3])(*ins)
    loss = outs[0].sum() + (outs[1] * outs[1]).sum()
    loss.backward(retain_graph=True)
    first = [t.grad.copy() for t in ins]
    loss.backward()
    for t, g in zip(ins, first):
        np.testing.assert_allclose(t.grad, 2 * g, rtol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_interleaved_graphs_do_not_share_scratch_buffers(cell):
    """Two live graphs of the same shapes (recycled scratch buffers must not collide)."""
    rng = np.random.default_rng(19)
    first, second = (make_params(cell, 2, 5, 3, 4, rng) for _ in range(2))
    want = [run(op(cell, False), a) for a in (first, second)]
    ins = [[t64(a) for a in arrays] for arrays in (first, second)]
    outs = [op(cell, True)(*i) for i in ins]
    with tn.no_grad():                       # a third call in between, freed at once
        op(cell, True)(*[t64(a) for a in first])
    for k in (1, 0):                         # backward in the opposite order
        rng_v = np.random.default_rng(0)
        loss = None
        for o in outs[k]:
            term = (o * tn.tensor(rng_v.standard_normal(o.shape))).sum()
            loss = term if loss is None else loss + term
        loss.backward()
    for k in (0, 1):
        for o, w in zip(outs[k], want[k][0]):
            np.testing.assert_allclose(o.data, w, rtol=1e-10, atol=1e-12)
        for t, w in zip(ins[k], want[k][1]):
            np.testing.assert_allclose(t.grad, w, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("cell", CELLS)
def test_no_grad_builds_no_graph_and_none_state_is_zeros(cell):
    rng = np.random.default_rng(12)
    x, *states, W, U, b = make_params(cell, 2, 3, 2, 3, rng)
    zeros = [np.zeros_like(s) for s in states]
    fn = op(cell, True)
    with tn.no_grad():
        outs = fn(t64(x), *[None] * len(states), t64(W), t64(U), t64(b))
    assert all(not o.requires_grad for o in outs)
    ref = _call(cell, True, [x, *zeros, W, U, b])
    for o, r in zip(outs, ref):
        np.testing.assert_array_equal(o.data, r)


# --------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------

@pytest.mark.parametrize("fused", [True, False], ids=["fused", "reference"])
@pytest.mark.parametrize("cell", CELLS)
def test_float32_stays_float32_and_close_to_float64(cell, fused):
    rng = np.random.default_rng(13)
    arrays = make_params(cell, 3, 5, 4, 6, rng)
    ins = [tn.tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    mask = np.array([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=bool)
    outs = op(cell, fused, mask=mask)(*ins)
    sum(o.sum() for o in outs).backward()
    for o in outs:
        assert o.dtype == np.float32
    for t in ins:
        assert t.grad.dtype == np.float32
    ins64 = [t64(a) for a in arrays]
    outs64 = op(cell, fused, mask=mask)(*ins64)
    sum(o.sum() for o in outs64).backward()
    for a, r in zip(outs, outs64):
        np.testing.assert_allclose(a.data, r.data, rtol=2e-4, atol=2e-5)
    for a, r in zip(ins, ins64):
        np.testing.assert_allclose(a.grad, r.grad, rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("cell", CELLS)
def test_mixed_dtypes_never_downcast(cell):
    rng = np.random.default_rng(14)
    x, *states, W, U, b = make_params(cell, 2, 3, 2, 3, rng)
    ins = [tn.tensor(x.astype(np.float32), requires_grad=True)] + \
        [tn.tensor(a, requires_grad=True) for a in (*states, W, U, b)]
    outs = op(cell, True)(*ins)
    assert all(o.dtype == np.float64 for o in outs)
    ref = _call(cell, True, [x.astype(np.float32).astype(np.float64), *states, W, U, b])
    for o, r in zip(outs, ref):
        np.testing.assert_allclose(o.data, r, rtol=1e-13)
    sum(o.sum() for o in outs).backward()
    assert ins[0].grad.dtype == np.float32 and ins[-1].grad.dtype == np.float64


def test_accepts_plain_ndarrays_for_weights():
    rng = np.random.default_rng(15)
    x, h0, W, U, b = make_params("elman", 2, 3, 2, 3, rng)
    xt = t64(x)
    hs, h = F.elman_rnn(xt, h0, W, U, b)
    h.sum().backward()
    ref = _call("elman", True, [x, h0, W, U, b])
    np.testing.assert_array_equal(hs.data, ref[0])
    assert xt.grad.shape == x.shape


# --------------------------------------------------------------------------
# validation errors
# --------------------------------------------------------------------------

def _elman_args(**over):
    rng = np.random.default_rng(0)
    x, h0, W, U, b = make_params("elman", 2, 3, 4, 5, rng)
    args = dict(x=x, h0=h0, W=W, U=U, b=b)
    args.update(over)
    return args


@pytest.mark.parametrize("fn", [F.elman_rnn, F.elman_rnn_reference])
@pytest.mark.parametrize("over, exc, pattern", [
    (dict(x=np.zeros((2, 3))), ValueError, r"x must be a 3-D.*got shape \(2, 3\)"),
    (dict(x=np.zeros((2, 3, 4), np.int64)), ValueError, r"x must be .*floating.*int64"),
    (dict(x=np.zeros((2, 0, 4))), ValueError, r"x must have at least one time step"),
    (dict(W=np.zeros((3, 5))), ValueError, r"W must have shape .*\(4, 5\).*D=4.*got \(3, 5\)"),
    (dict(W=np.zeros((4, 6))), ValueError, r"W must have shape .*\(4, 5\).*got \(4, 6\)"),
    (dict(U=np.zeros((5, 4))), ValueError, r"U must have shape \(H, H\).*got \(5, 4\)"),
    (dict(b=np.zeros(4)), ValueError, r"b must have shape \(5,\).*got \(4,\)"),
    (dict(h0=np.zeros((3, 5))), ValueError,
     r"h0 must have shape \(B, H\) = \(2, 5\), got \(3, 5\)"),
    (dict(W=np.zeros((4, 5), np.int32)), TypeError, r"W must be a floating-point.*int32"),
])
def test_elman_errors(fn, over, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn(**_elman_args(**over))


@pytest.mark.parametrize("fn", [F.elman_rnn, F.elman_rnn_reference])
def test_elman_bad_activation_and_mask(fn):
    with pytest.raises(ValueError, match=r"activation must be one of .*'tanh'.*got 'softmax'"):
        fn(**_elman_args(), activation="softmax")
    with pytest.raises(ValueError, match=r"mask must have shape \(B, T\) = \(2, 3\), got \(3, 2\)"):
        fn(**_elman_args(), mask=np.ones((3, 2), bool))
    with pytest.raises(TypeError, match=r"mask must be boolean.*float64"):
        fn(**_elman_args(), mask=np.full((2, 3), 0.5))


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "reference"])
def test_lstm_gru_errors(fused):
    rng = np.random.default_rng(0)
    x, h0, c0, W, U, b = make_params("lstm", 2, 3, 4, 5, rng)
    lstm = F.lstm if fused else F.lstm_reference
    with pytest.raises(ValueError, match=r"U must have shape \(H, 4H\).*got \(5, 5\)"):
        lstm(x, h0, c0, W, U[:, :5], b)
    with pytest.raises(ValueError, match=r"W must have shape \(D, 4H\) = \(4, 20\).*got \(3, 20\)"):
        lstm(x, h0, c0, W[:3], U, b)
    with pytest.raises(ValueError, match=r"b must have shape \(20,\).*got \(2, 15\)"):
        lstm(x, h0, c0, W, U, np.zeros((2, 15)))
    with pytest.raises(ValueError, match=r"c0 must have shape \(B, H\) = \(2, 5\), got \(2, 4\)"):
        lstm(x, h0, c0[:, :4], W, U, b)
    x, h0, W, U, b = make_params("gru", 2, 3, 4, 5, rng)
    gru = F.gru if fused else F.gru_reference
    with pytest.raises(ValueError, match=r"b must have shape \(2, 15\) \(\[input bias; "
                                         r"recurrent bias\]\), got \(15,\)"):
        gru(x, h0, W, U, b[0])
    with pytest.raises(ValueError, match=r"U must have shape \(H, 3H\).*got \(5, 20\)"):
        gru(x, h0, W, np.zeros((5, 20)), b)


# --------------------------------------------------------------------------
# converters (numpy only; the torch parity suite checks their meaning)
# --------------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
def test_converters_round_trip(cell):
    rng = np.random.default_rng(16)
    x, *states, W, U, b = make_params(cell, 1, 1, 3, 4, rng)
    to, back = {"elman": (F.rnn_weights_to_torch, F.rnn_weights_from_torch),
                "lstm": (F.lstm_weights_to_torch, F.lstm_weights_from_torch),
                "gru": (F.gru_weights_to_torch, F.gru_weights_from_torch)}[cell]
    w_ih, w_hh, b_ih, b_hh = to(W, U, b)
    g = N_GATES[cell]
    assert w_ih.shape == (g * 4, 3) and w_hh.shape == (g * 4, 4)
    assert b_ih.shape == b_hh.shape == (g * 4,)
    W2, U2, b2 = back(w_ih, w_hh, b_ih, b_hh)
    np.testing.assert_array_equal(W2, W)
    np.testing.assert_array_equal(U2, U)
    np.testing.assert_array_equal(b2, b)
    # torch biases of a layer built with bias=False
    W3, U3, b3 = back(w_ih, w_hh, None, None)
    np.testing.assert_array_equal(b3, np.zeros_like(b))


def test_gru_converter_swaps_z_and_r():
    H = 2
    W = np.array([[1.0, 1.0, 2.0, 2.0, 3.0, 3.0]])          # Keras blocks z=1, r=2, h=3
    U = np.tile(W, (H, 1))
    b = np.stack([W[0], 10 * W[0]])
    w_ih, w_hh, b_ih, b_hh = F.gru_weights_to_torch(W, U, b)
    np.testing.assert_array_equal(w_ih[:, 0], [2, 2, 1, 1, 3, 3])   # torch rows r, z, n
    np.testing.assert_array_equal(b_hh, [20, 20, 10, 10, 30, 30])
    with pytest.raises(ValueError, match=r"w_hh must have shape \(6, 2\), got \(4, 2\)"):
        F.gru_weights_from_torch(w_ih, w_hh[:4], b_ih, b_hh)


# --------------------------------------------------------------------------
# inference path (no gradient needed): same forward as the training path
# --------------------------------------------------------------------------

def _random_mask(rng, B, T, kind):
    lengths = rng.integers(0, T + 1, B)
    m = F.lengths_to_mask(lengths, T)
    return m[:, ::-1].copy() if kind == "pre" else m      # 'pre': padding at the start


def _assert_inference_paths_match_training(fn, x, states, W, U, b, mask, dtype, **kw):
    """fn under no_grad and with no input requiring grad (the inference paths) gives the
    training forward's outputs; padded steps output zero."""
    params = [tn.Tensor(a, requires_grad=True) for a in (W, U, b)]
    train = fn(x, *states, *params, mask=mask, **kw)          # records the graph
    assert train[0].requires_grad
    with tn.no_grad():
        infer = fn(x, *states, *params, mask=mask, **kw)      # inference path
    frozen = fn(x, *states, W, U, b, mask=mask, **kw)        # nothing requires grad
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-13)
    for got in (infer, frozen):
        assert len(got) == len(train)
        for g, want in zip(got, train):
            assert not g.requires_grad
            assert g.dtype == want.dtype == dtype
            assert g.shape == want.shape
            np.testing.assert_allclose(g.data, want.data, **tol)
    if mask is not None:
        np.testing.assert_array_equal(infer[0].data[~mask], 0)


@settings(max_examples=30)
@given(B=st.integers(1, 5), T=st.integers(1, 7), D=st.integers(1, 4), H=st.integers(1, 5),
       masked=st.sampled_from(["none", "post", "pre"]),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_lstm_inference_path_equals_training_forward(B, T, D, H, masked, dtype, seed):
    rng = np.random.default_rng(seed)
    x, h0, c0, W, U, b = make_params("lstm", B, T, D, H, rng, scale=1.5, dtype=dtype)
    mask = None if masked == "none" else _random_mask(rng, B, T, masked)
    _assert_inference_paths_match_training(F.lstm, x, (h0, c0), W, U, b, mask, dtype)


@pytest.mark.parametrize("kind", ["post", "pre"])
def test_lstm_inference_path_ignores_padded_inputs_and_empty_sequences(kind):
    rng = np.random.default_rng(5)
    x, h0, c0, W, U, b = make_params("lstm", 4, 6, 3, 5, rng, dtype=np.float32)
    mask = F.lengths_to_mask(np.array([6, 2, 0, 4]), 6)
    if kind == "pre":
        mask = mask[:, ::-1].copy()
    x_nan = np.where(mask[:, :, None], x, np.nan).astype(np.float32)
    with tn.no_grad():
        hs, h, c = F.lstm(x_nan, h0, c0, W, U, b, mask=mask)
        hs2, h2, c2 = F.lstm(x, h0, c0, W, U, b, mask=mask)
    for a, b_ in ((hs, hs2), (h, h2), (c, c2)):
        assert np.isfinite(a.data).all()
        np.testing.assert_array_equal(a.data, b_.data)
    np.testing.assert_array_equal(h.data[2], h0[2])           # length 0: state passes through
    np.testing.assert_array_equal(c.data[2], c0[2])
    np.testing.assert_array_equal(hs.data[2], 0)


def test_lstm_inference_path_with_zero_initial_state_and_input_grad_only():
    rng = np.random.default_rng(6)
    x, _, _, W, U, b = make_params("lstm", 3, 5, 2, 4, rng)
    with tn.no_grad():
        ref = F.lstm(x, None, None, W, U, b)
    xt = tn.Tensor(x, requires_grad=True)                     # grad needed for x only
    out = F.lstm(xt, None, None, W, U, b)
    assert out[0].requires_grad
    for g, want in zip(ref, out):
        np.testing.assert_allclose(g.data, want.data, rtol=1e-13, atol=1e-13)
    out[1].sum().backward()
    assert xt.grad is not None and np.isfinite(xt.grad).all()


@pytest.mark.parametrize("masked", ["none", "post", "pre"])
def test_lstm_input_projection_in_chunks_of_steps(monkeypatch, masked):
    """On the NumPy path (no Numba GEMM: the blocks of rows project step by step) x_t W
    is computed a few steps at a time (a cache-sized chunk); force chunks of 2 steps
    over T = 7 (2 + 2 + 2 + 1) and compare both paths with the reference."""
    from tinynlp.functional.rnn import lstm_cell
    from tinynlp.kernels import blas
    monkeypatch.setattr(blas, "_found", {})
    monkeypatch.setenv("TINYNLP_NUMBA_GEMM", "0")
    rng = np.random.default_rng(11)
    B, T = 3, 7
    arrays = make_params("lstm", B, T, 3, 4, rng)
    mask = None if masked == "none" else _random_mask(rng, B, T, masked)
    want_out, want_grads = run(op("lstm", False, mask=mask), arrays)
    calls = []

    def two_steps(*args, **kwargs):
        calls.append(args)
        return 2
    monkeypatch.setattr(lstm_cell, "steps_per_chunk", two_steps)
    got_out, got_grads = run(op("lstm", True, mask=mask), arrays)
    with tn.no_grad():
        infer = F.lstm(*arrays, mask=mask)
    assert len(calls) == 2                                     # training and inference path
    for g, w in zip(got_out, want_out):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    for g, w in zip(got_grads, want_grads):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    for g, w in zip(infer, want_out):
        np.testing.assert_allclose(g.data, w, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_fused_ops_with_numba_kernels_reject_float16_with_a_clear_error(cell):
    rng = np.random.default_rng(3)
    arrays = [a.astype(np.float16) for a in make_params(cell, 2, 3, 4, 2, rng)]
    with pytest.raises(TypeError, match=f"{cell}: .*float32 or float64, got float16"):
        op(cell, True)(*arrays)
    out = op(cell, False)(*arrays)                  # the readable twin computes in NumPy
    assert out[0].dtype == np.float16


def test_fused_elman_runs_in_float16_like_its_reference():
    """The fused Elman op is NumPy only (no Numba kernel), so it keeps float16."""
    rng = np.random.default_rng(3)
    arrays = [a.astype(np.float16) for a in make_params("elman", 2, 3, 4, 2, rng)]
    got, want = op("elman", True)(*arrays), op("elman", False)(*arrays)
    with tn.no_grad():
        infer = op("elman", True)(*arrays)
    for g, i, w in zip(got, infer, want):
        assert g.dtype == i.dtype == np.float16
        np.testing.assert_allclose(g.data, w.data, rtol=2e-3, atol=2e-3)
        np.testing.assert_allclose(i.data, w.data, rtol=2e-3, atol=2e-3)


@settings(max_examples=30)
@given(B=st.integers(1, 5), T=st.integers(1, 6), D=st.integers(1, 4), H=st.integers(1, 5),
       masked=st.sampled_from(["none", "post", "pre"]),
       activation=st.sampled_from(["tanh", "relu", "sigmoid", "linear"]),
       with_h0=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16))
def test_elman_inference_path_equals_training_forward(B, T, D, H, masked, activation, with_h0,
                                                      dtype, seed):
    rng = np.random.default_rng(seed)
    x, h0, W, U, b = make_params("elman", B, T, D, H, rng, scale=1.5, dtype=dtype)
    h0 = h0 if with_h0 else None
    mask = None if masked == "none" else _random_mask(rng, B, T, masked)
    _assert_inference_paths_match_training(F.elman_rnn, x, (h0,), W, U, b, mask, dtype,
                                           activation=activation)


def test_elman_inference_path_ignores_padded_inputs():
    rng = np.random.default_rng(8)
    x, h0, W, U, b = make_params("elman", 4, 6, 3, 5, rng, dtype=np.float32)
    mask = F.lengths_to_mask(np.array([6, 2, 0, 4]), 6)[:, ::-1].copy()    # pre-padding
    x_nan = np.where(mask[:, :, None], x, np.nan).astype(np.float32)
    with tn.no_grad():
        hs, h = F.elman_rnn(x_nan, h0, W, U, b, mask=mask)
        hs2, h2 = F.elman_rnn(x, h0, W, U, b, mask=mask)
    assert np.isfinite(hs.data).all() and np.isfinite(h.data).all()
    np.testing.assert_array_equal(hs.data, hs2.data)
    np.testing.assert_array_equal(h.data, h2.data)
    np.testing.assert_array_equal(h.data[2], h0[2])            # length 0: the state passes
