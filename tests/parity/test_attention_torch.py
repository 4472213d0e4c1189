"""Attention against PyTorch: ``F.scaled_dot_product_attention`` vs
``torch.nn.functional.scaled_dot_product_attention`` and ``MultiHeadAttention`` vs
``torch.nn.MultiheadAttention`` (weights copied with the converters): values and gradients,
float64, with and without masks.

PyTorch's bool masks for SDPA mean "may attend" (as ours); ``nn.MultiheadAttention``'s
``attn_mask`` / ``key_padding_mask`` mean the opposite (True = masked).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinynlp as tn  # noqa: E402
from tinynlp import functional as F  # noqa: E402

TOL = dict(rtol=1e-10, atol=1e-12)


def arrays(B=2, H=3, Tq=4, Tk=6, d=5, dv=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in ((B, H, Tq, d), (B, H, Tk, d), (B, H, Tk, dv))]


def run_ours(arrs, mask=None, grad_mask=False, **kw):
    ts = [tn.tensor(a, requires_grad=True) for a in arrs]
    m = tn.tensor(mask, requires_grad=True) if grad_mask else mask
    out = F.scaled_dot_product_attention(*ts, mask=m, **kw)
    g = np.random.default_rng(9).standard_normal(out.shape)
    out.backward(g)
    grads = [t.grad for t in ts] + ([m.grad] if grad_mask else [])
    return out.data, grads, g


def run_torch(arrs, g, mask=None, grad_mask=False, **kw):
    ts = [torch.tensor(a, requires_grad=True) for a in arrs]
    m = None if mask is None else torch.tensor(mask, requires_grad=grad_mask)
    out = torch.nn.functional.scaled_dot_product_attention(*ts, attn_mask=m, **kw)
    out.backward(torch.tensor(g))
    grads = [t.grad.numpy() for t in ts] + ([m.grad.numpy()] if grad_mask else [])
    return out.detach().numpy(), grads


CASES = {
    "no mask": dict(),
    "causal": dict(is_causal=True),
    "causal, Tq > Tk": dict(is_causal=True, shape=dict(Tq=7, Tk=4)),
    "bool mask with an empty row": dict(mask="bool"),
    "float mask": dict(mask="float"),
    "scale": dict(scale=0.3),
    "one head, one token": dict(shape=dict(H=1, Tq=1, Tk=1)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_sdpa_matches_torch(name):
    case = dict(CASES[name])
    arrs = arrays(**case.pop("shape", {}))
    Tq, Tk = arrs[0].shape[-2], arrs[1].shape[-2]
    mask = case.pop("mask", None)
    rng = np.random.default_rng(3)
    if mask == "bool":
        mask = rng.random((2, 1, Tq, Tk)) > 0.4
        mask[1, 0, 2] = False
    elif mask == "float":
        mask = rng.standard_normal((1, 3, Tq, Tk))
    grad_mask = mask is not None and mask.dtype.kind == "f"
    ours, our_grads, g = run_ours(arrs, mask, grad_mask, **case)
    theirs, their_grads = run_torch(arrs, g, mask, grad_mask, **case)
    np.testing.assert_allclose(ours, theirs, **TOL)
    for a, b in zip(our_grads, their_grads):
        np.testing.assert_allclose(a, b, **TOL)


def test_sdpa_float32_matches_torch():
    arrs = [a.astype(np.float32) for a in arrays()]
    ours, our_grads, g = run_ours(arrs, is_causal=True)
    theirs, their_grads = run_torch(arrs, g.astype(np.float32), is_causal=True)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    for a, b in zip(our_grads, their_grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def mha_pair(E=8, H=2, kdim=None, vdim=None, seed=0):
    torch.manual_seed(seed)
    theirs = torch.nn.MultiheadAttention(E, H, batch_first=True, kdim=kdim, vdim=vdim).double()
    with torch.no_grad():
        theirs.in_proj_bias.normal_() if theirs.in_proj_bias is not None else None
        theirs.out_proj.bias.normal_()
    ours = tn.layers.MultiHeadAttention(H, E // H, dtype="float64")
    return ours, theirs


@pytest.mark.parametrize("masks", ["none", "key_padding", "causal", "attn_mask+padding"])
@pytest.mark.parametrize("cross", [False, True])
def test_multi_head_attention_matches_torch(masks, cross):
    rng = np.random.default_rng(1)
    B, T, S, E = 2, 5, 6 if cross else 5, 8
    kdim, vdim = (6, 4) if cross else (None, None)
    ours, theirs = mha_pair(E, 2, kdim, vdim)
    x = rng.standard_normal((B, T, E))
    key = rng.standard_normal((B, S, kdim or E))
    value = rng.standard_normal((B, S, vdim or E))
    ours(x, value, key)
    ours.set_weights(tn.layers.mha_weights_from_torch(theirs, 2))

    our_kw, their_kw = {}, {}
    if masks in ("key_padding", "attn_mask+padding"):
        pad = np.ones((B, S), bool)
        pad[1, -2:] = False
        our_kw["value_mask"] = pad
        their_kw["key_padding_mask"] = torch.tensor(~pad)
    if masks == "causal":
        our_kw["use_causal_mask"] = True
        their_kw["attn_mask"] = torch.tensor(~np.tril(np.ones((T, S), bool)))
        their_kw["is_causal"] = True
    if masks == "attn_mask+padding":
        am = rng.random((T, S)) > 0.3
        am[:, 0] = True
        our_kw["attention_mask"] = am
        their_kw["attn_mask"] = torch.tensor(~am)

    tx, tk, tv = (tn.tensor(a, requires_grad=True) for a in (x, key, value))
    out = ours(tx, tv, tk, **our_kw)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    px, pk, pv = (torch.tensor(a, requires_grad=True) for a in (x, key, value))
    pout, _ = theirs(px, pk, pv, need_weights=False, **their_kw)
    pout.backward(torch.tensor(g))

    np.testing.assert_allclose(out.data, pout.detach().numpy(), **TOL)
    for a, b in ((tx, px), (tk, pk), (tv, pv)):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), **TOL)
    # weight gradients, mapped back through the converter
    their_grads = tn.layers.mha_weights_from_torch(
        {k: p.grad for k, p in theirs.named_parameters()}, 2)
    for p, gt in zip(ours.weights, their_grads):
        np.testing.assert_allclose(p.grad, gt, **TOL, err_msg=p.name)


def test_converters_round_trip_and_attention_weights_agree():
    ours, theirs = mha_pair()
    x = np.random.default_rng(2).standard_normal((2, 4, 8))
    ours(x, x)
    ours.set_weights(tn.layers.mha_weights_from_torch(theirs.state_dict(), 2))
    sd = tn.layers.mha_weights_to_torch(ours)
    for k, v in theirs.state_dict().items():
        np.testing.assert_array_equal(sd[k], v.numpy())
    _, scores = ours(x, x, return_attention_scores=True)
    _, w = theirs(*(torch.tensor(x),) * 3, average_attn_weights=False)
    np.testing.assert_allclose(scores.data, w.detach().numpy(), **TOL)


def test_converter_errors():
    ours = tn.layers.MultiHeadAttention(2, 3, value_dim=4)
    ours(np.zeros((1, 2, 6), np.float32), np.zeros((1, 2, 6), np.float32))
    with pytest.raises(ValueError, match="equal key and value head sizes"):
        tn.layers.mha_weights_to_torch(ours)
    theirs = torch.nn.MultiheadAttention(8, 2)
    with pytest.raises(ValueError, match="positive divisor of embed_dim = 8"):
        tn.layers.mha_weights_from_torch(theirs, 3)
