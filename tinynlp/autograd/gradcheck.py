"""Finite-difference gradient checking.

``gradcheck(fn, inputs)`` compares the gradients that backward computes with
central differences in float64:

* the outputs are weighted by a **random cotangent** ``v`` — the checked scalar
  is ``L = Σ v ⊙ fn(inputs)``, not ``fn(inputs).sum()``: a plain sum hides
  errors whose contributions cancel (softmax's gradient sums to zero along its
  axis, so ``softmax(x).sum()`` has gradient 0 whatever the backward says);
* inputs with at most ``max_elements`` elements are checked **element by
  element**: ``∂L/∂xᵢ ≈ (L(x + ε eᵢ) − L(x − ε eᵢ)) / 2ε``;
* larger inputs are checked along ``n_directions`` random unit directions
  ``u``: ``<∇L, u>`` must equal ``(L(x + εu) − L(x − εu)) / 2ε`` (a projection
  of the Jacobian, both ways);
* on failure it reports the input, the worst index, both values and the
  relative error.
"""

from __future__ import annotations

import numpy as np

from .tensor import Tensor, no_grad


class GradcheckError(AssertionError):
    """Raised when analytic and numerical gradients disagree."""


def _outputs(out):
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [o for o in out if isinstance(o, Tensor)]
    raise TypeError(f"gradcheck: fn must return a Tensor or a tuple of Tensors, got {type(out)}")


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4,
              max_elements: int = 512, n_directions: int = 8, seed: int = 0,
              raise_exception: bool = True) -> bool:
    """Check ``fn``'s backward against central finite differences (float64).

    ``inputs``: a list of Tensors; those with ``requires_grad`` are checked and
    must be float64.  ``fn(*inputs)`` returns a Tensor or a tuple of Tensors.
    Returns True, or raises :class:`GradcheckError` naming the worst element
    (returns False instead when ``raise_exception=False``).
    """
    inputs = list(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} must be float64 for finite differences to be "
                f"meaningful, got {inputs[i].dtype}"
            )
    rng = np.random.default_rng(seed)

    # analytic gradient of L = Σ v ⊙ out
    for i in checked:
        inputs[i].grad = None
    outs = _outputs(fn(*inputs))
    vs = [rng.standard_normal(o.shape) for o in outs]
    loss = None
    for o, v in zip(outs, vs):
        if not o.requires_grad:
            continue
        term = (o * Tensor(v.astype(o.dtype), _copy=False)).sum()
        loss = term if loss is None else loss + term
    if loss is None:
        raise ValueError("gradcheck: no output of fn depends on an input that requires grad")
    loss.backward()
    analytic = {i: (inputs[i].grad if inputs[i].grad is not None
                    else np.zeros_like(inputs[i].data)) for i in checked}

    def L():
        with no_grad():
            os = _outputs(fn(*inputs))
        return float(sum(np.sum(o.data.astype(np.float64) * v) for o, v in zip(os, vs)))

    worst = (0.0, None)
    for i in checked:
        x = inputs[i].data
        g = analytic[i]
        if x.size <= max_elements:
            for index in np.ndindex(*x.shape):  # perturb in place, then restore
                orig = x[index]
                x[index] = orig + eps
                lp = L()
                x[index] = orig - eps
                lm = L()
                x[index] = orig
                num = (lp - lm) / (2 * eps)
                ana = float(g[index])
                err = abs(num - ana)
                if err > atol + rtol * abs(num):
                    rel = err / max(abs(num), abs(ana), 1e-12)
                    worst = _worse(worst, rel, (i, tuple(int(j) for j in index), ana, num))
        else:
            base = x.copy()
            for _ in range(n_directions):
                u = rng.standard_normal(x.shape)
                u /= np.linalg.norm(u)
                x[...] = base + eps * u
                lp = L()
                x[...] = base - eps * u
                lm = L()
                x[...] = base
                num = (lp - lm) / (2 * eps)
                ana = float(np.sum(g * u))
                err = abs(num - ana)
                if err > atol + rtol * abs(num):
                    rel = err / max(abs(num), abs(ana), 1e-12)
                    worst = _worse(worst, rel, (i, "random direction", ana, num))
    if worst[1] is None:
        return True
    i, where, ana, num = worst[1]
    message = (
        f"gradcheck failed for input {i} (shape {inputs[i].shape}) at {where}: "
        f"backward gave {ana:.10g}, finite differences gave {num:.10g} "
        f"(relative error {worst[0]:.3g}; atol={atol}, rtol={rtol}, eps={eps})"
    )
    if raise_exception:
        raise GradcheckError(message)
    return False


def _worse(worst, rel, info):
    return (rel, info) if worst[1] is None or rel > worst[0] else worst
