"""Optimizers, schedules and clipping against torch.optim (same hyper-parameters, same grads)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinynlp as tn  # noqa: E402
from tinynlp.autograd.tensor import RowSparseGrad  # noqa: E402
from tinynlp.layers.base import Parameter  # noqa: E402

STEPS = 7

# (tinynlp constructor, torch constructor) with the same hyper-parameters
CASES = {
    "sgd": (lambda: tn.optimizers.SGD(0.1),
            lambda ps: torch.optim.SGD(ps, lr=0.1)),
    "sgd_momentum": (lambda: tn.optimizers.SGD(0.05, momentum=0.9),
                     lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9)),
    "sgd_nesterov_wd": (lambda: tn.optimizers.SGD(0.05, momentum=0.8, nesterov=True,
                                                  weight_decay=0.01),
                        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True,
                                                   weight_decay=0.01)),
    "adam": (lambda: tn.optimizers.Adam(0.01, epsilon=1e-7),
             lambda ps: torch.optim.Adam(ps, lr=0.01, eps=1e-7)),
    "adam_amsgrad_wd": (lambda: tn.optimizers.Adam(0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-6,
                                                   amsgrad=True, weight_decay=0.1),
                        lambda ps: torch.optim.Adam(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-6,
                                                    amsgrad=True, weight_decay=0.1)),
    "adamw": (lambda: tn.optimizers.AdamW(0.01, weight_decay=0.05, epsilon=1e-8),
              lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.05, eps=1e-8)),
    "rmsprop": (lambda: tn.optimizers.RMSprop(0.01, rho=0.9, epsilon=1e-7),
                lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-7)),
    "rmsprop_centered_momentum": (
        lambda: tn.optimizers.RMSprop(0.01, rho=0.8, momentum=0.5, centered=True, epsilon=1e-6,
                                      weight_decay=0.02),
        lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.8, momentum=0.5, centered=True,
                                       eps=1e-6, weight_decay=0.02)),
    "adagrad": (lambda: tn.optimizers.Adagrad(0.1, initial_accumulator_value=0.1, epsilon=1e-7),
                lambda ps: torch.optim.Adagrad(ps, lr=0.1, initial_accumulator_value=0.1,
                                               eps=1e-7)),
    "adagrad_wd": (lambda: tn.optimizers.Adagrad(0.1, initial_accumulator_value=0.0,
                                                 epsilon=1e-10, weight_decay=0.1),
                   lambda ps: torch.optim.Adagrad(ps, lr=0.1, eps=1e-10, weight_decay=0.1)),
}


def _run_both(make_tn, make_torch, shapes=((4, 3), (3,)), steps=STEPS, dtype=np.float64,
              grad_fn=None, before_step=None, sched=None):
    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ours = [Parameter(w.copy(), name=f"p{i}") for i, w in enumerate(init)]
    theirs = [torch.tensor(w.copy(), requires_grad=True) for w in init]
    opt = make_tn()
    topt = make_torch(theirs)
    tsched = sched(topt) if sched else None
    for step in range(steps):
        grads = [rng.standard_normal(s).astype(dtype) * (1 + step) for s in shapes]
        if grad_fn is not None:
            grads = [grad_fn(g, step) for g in grads]
        for p, t, g in zip(ours, theirs, grads):
            p.grad = g.copy()
            t.grad = torch.tensor(g.copy())
        if before_step is not None:
            before_step(theirs)
        opt.step(ours)
        topt.step()
        if tsched is not None:
            tsched.step()
        for p, t in zip(ours, theirs):
            np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=f"step {step + 1}")
    return ours, opt


@pytest.mark.parametrize("case", sorted(CASES))
def test_optimizer_matches_torch_float64(case):
    make_tn, make_torch = CASES[case]
    _, opt = _run_both(make_tn, make_torch)
    assert opt.iterations == STEPS


@pytest.mark.parametrize("case", ["sgd_momentum", "adam", "adamw", "rmsprop", "adagrad"])
def test_optimizer_matches_torch_float32(case):
    make_tn, make_torch = CASES[case]
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((5, 4)).astype(np.float32)
    p = Parameter(w0.copy())
    t = torch.tensor(w0.copy(), requires_grad=True)
    opt, topt = make_tn(), make_torch([t])
    for _ in range(STEPS):
        g = rng.standard_normal((5, 4)).astype(np.float32)
        p.grad, t.grad = g.copy(), torch.tensor(g)
        opt.step([p])
        topt.step()
    assert p.data.dtype == np.float32
    np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-5, atol=1e-6)


# ---- clipping -------------------------------------------------------------------

def test_global_clipnorm_matches_clip_grad_norm():
    def clip(ps):
        torch.nn.utils.clip_grad_norm_(ps, max_norm=1.5)
    # torch divides by (norm + 1e-6): agreement to ~1e-6 relative
    rng = np.random.default_rng(3)
    shapes = [(4, 3), (3,)]
    init = [rng.standard_normal(s) for s in shapes]
    ours = [Parameter(w.copy()) for w in init]
    theirs = [torch.tensor(w.copy(), requires_grad=True) for w in init]
    opt = tn.optimizers.SGD(0.1, global_clipnorm=1.5)
    topt = torch.optim.SGD(theirs, lr=0.1)
    for _ in range(5):
        grads = [rng.standard_normal(s) * 3 for s in shapes]
        for p, t, g in zip(ours, theirs, grads):
            p.grad, t.grad = g.copy(), torch.tensor(g)
        clip(theirs)
        opt.step(ours)
        topt.step()
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-5, atol=1e-7)


def test_clipvalue_matches_clip_grad_value():
    _run_both(lambda: tn.optimizers.Adam(0.01, clipvalue=0.5),
              lambda ps: torch.optim.Adam(ps, lr=0.01, eps=1e-7),
              before_step=lambda ps: torch.nn.utils.clip_grad_value_(ps, 0.5))


def test_clipnorm_per_tensor_matches_torch_per_tensor():
    def clip_each(ps):
        for p in ps:
            torch.nn.utils.clip_grad_norm_([p], max_norm=0.7)
    rng = np.random.default_rng(4)
    init = [rng.standard_normal((6,)), rng.standard_normal((2, 2))]
    ours = [Parameter(w.copy()) for w in init]
    theirs = [torch.tensor(w.copy(), requires_grad=True) for w in init]
    opt = tn.optimizers.SGD(0.3, momentum=0.5, clipnorm=0.7)
    topt = torch.optim.SGD(theirs, lr=0.3, momentum=0.5)
    for _ in range(5):
        for p, t in zip(ours, theirs):
            g = rng.standard_normal(p.shape)
            p.grad, t.grad = g.copy(), torch.tensor(g)
        clip_each(theirs)
        opt.step(ours)
        topt.step()
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-5, atol=1e-7)


# ---- schedules ---------------------------------------------------------------------

def _lrs_torch(make_sched, n, lr0):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr0)
    sched = make_sched(opt)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out)


def test_step_decay_matches_steplr():
    s = tn.optimizers.schedules.StepDecay(0.5, step_size=3, gamma=0.5)
    ref = _lrs_torch(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
                     12, 0.5)
    np.testing.assert_allclose([s(i) for i in range(12)], ref, rtol=1e-12)


def test_exponential_decay_matches_exponentiallr():
    s = tn.optimizers.schedules.ExponentialDecay(0.3, decay_steps=1, decay_rate=0.9)
    ref = _lrs_torch(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9), 10, 0.3)
    np.testing.assert_allclose([s(i) for i in range(10)], ref, rtol=1e-12)


def test_cosine_decay_matches_cosine_annealing():
    s = tn.optimizers.schedules.CosineDecay(0.2, decay_steps=8, alpha=0.1)
    ref = _lrs_torch(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(
        o, T_max=8, eta_min=0.02), 9, 0.2)
    np.testing.assert_allclose([s(i) for i in range(9)], ref, rtol=1e-9)


def test_linear_warmup_matches_linearlr():
    s = tn.optimizers.schedules.LinearWarmup(0.1, warmup_steps=5, start_factor=0.2)
    ref = _lrs_torch(lambda o: torch.optim.lr_scheduler.LinearLR(
        o, start_factor=0.2, end_factor=1.0, total_iters=5), 9, 0.1)
    np.testing.assert_allclose([s(i) for i in range(9)], ref, rtol=1e-9)


def test_schedule_drives_adam_like_torch_scheduler():
    _run_both(lambda: tn.optimizers.Adam(
                  tn.optimizers.schedules.StepDecay(0.05, step_size=2, gamma=0.5)),
              lambda ps: torch.optim.Adam(ps, lr=0.05, eps=1e-7),
              sched=lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5))


def test_reduce_lr_on_plateau_matches_torch():
    """Keras semantics; the torch equivalent has patience - 1 and cooldown - 1.

    Keras reduces after `patience` bad epochs, torch after patience + 1
    (num_bad > patience); Keras' cooldown counter is decremented before the
    epoch is judged, so its last cooldown epoch already counts as bad.
    """
    from tinynlp.callbacks import ReduceLROnPlateau

    class _M:
        pass
    model = _M()
    model.optimizer = tn.optimizers.SGD(1.0)
    cb = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, min_delta=0.01,
                           cooldown=2, min_lr=0.05)
    cb.set_model(model)
    p = torch.zeros(1, requires_grad=True)
    topt = torch.optim.SGD([p], lr=1.0)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        topt, mode="min", factor=0.5, patience=1, threshold=0.01, threshold_mode="abs",
        cooldown=1, min_lr=0.05)
    values = [1.0, 0.9, 0.895, 0.9, 0.89, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75, 0.76, 0.77,
              0.78, 0.79, 0.8, 0.81]
    ours, theirs = [], []
    for epoch, v in enumerate(values):
        cb.on_epoch_end(epoch, {"val_loss": v})
        tsched.step(v)
        ours.append(model.optimizer.learning_rate)
        theirs.append(topt.param_groups[0]["lr"])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert min(ours) == pytest.approx(0.05)


# ---- row-sparse (embedding) gradients -----------------------------------------------

def _sparse_case(make_tn, make_torch, rows_per_step, vocab=6, dim=3, steps=5):
    rng = np.random.default_rng(7)
    w0 = rng.standard_normal((vocab, dim))
    p = Parameter(w0.copy(), sparse=True)
    t = torch.tensor(w0.copy(), requires_grad=True)
    opt, topt = make_tn(), make_torch([t])
    for step in range(steps):
        ids = rows_per_step(step)
        vals = rng.standard_normal((len(ids), dim))
        p.grad = RowSparseGrad(ids, vals.copy(), (vocab, dim))
        dense = np.zeros((vocab, dim))
        np.add.at(dense, ids, vals)
        t.grad = torch.tensor(dense)
        opt.step([p])
        topt.step()
    return p.data, t.detach().numpy()


@pytest.mark.parametrize("case", ["sgd", "adagrad"])
def test_sparse_exact_rules_match_dense_torch(case):
    """SGD and Adagrad: touching only some rows (with repeats) equals the dense update."""
    make_tn, make_torch = CASES[case]
    ours, theirs = _sparse_case(make_tn, make_torch,
                                lambda s: np.array([s % 6, 1, 1, (s * 2) % 6]))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", ["sgd_momentum", "adam", "adamw", "rmsprop_centered_momentum",
                                  "adam_amsgrad_wd"])
def test_lazy_rules_equal_dense_when_every_row_is_touched(case):
    make_tn, make_torch = CASES[case]
    ours, theirs = _sparse_case(make_tn, make_torch, lambda s: np.array([5, 4, 3, 2, 1, 0, 2]))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", ["adam", "sgd_momentum", "rmsprop"])
def test_lazy_false_densifies_to_the_exact_dense_update(case):
    make_tn, make_torch = CASES[case]

    def make_dense():
        opt = make_tn()
        opt.lazy = False
        return opt
    ours, theirs = _sparse_case(make_dense, make_torch, lambda s: np.array([s % 3, 4]))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["adamw", "sgd_nesterov_wd", "adam_amsgrad_wd"])
def test_weight_decay_exclusion_matches_torch_param_groups(name):
    """exclude_from_weight_decay = a torch param group with weight_decay 0."""
    make_tn, make_torch = CASES[name]
    rng = np.random.default_rng(1)
    shapes = {"dense/kernel": (4, 3), "dense/bias": (3,), "norm/gamma": (3,)}
    ours = {n: Parameter(rng.standard_normal(s), name=n) for n, s in shapes.items()}
    theirs = {n: torch.tensor(p.data.copy(), requires_grad=True) for n, p in ours.items()}
    opt = make_tn()
    opt.exclude_from_weight_decay(var_names=["bias"], var_list=[ours["norm/gamma"]])
    probe = make_torch([torch.zeros(1, requires_grad=True)])
    decay = probe.defaults["weight_decay"]
    topt = make_torch([{"params": [theirs["dense/kernel"]]},
                       {"params": [theirs["dense/bias"], theirs["norm/gamma"]],
                        "weight_decay": 0.0}])
    assert topt.param_groups[0]["weight_decay"] == decay > 0
    for step in range(STEPS):
        for n, s in shapes.items():
            g = rng.standard_normal(s) * (1 + step)
            ours[n].grad = g.copy()
            theirs[n].grad = torch.tensor(g)
        opt.step(list(ours.values()))
        topt.step()
    for n in shapes:
        np.testing.assert_allclose(ours[n].data, theirs[n].detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
    assert opt.weight_decay == decay                      # restored after each step
