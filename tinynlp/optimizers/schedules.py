"""Learning-rate schedules: ``lr = schedule(step)``.

Pass one as an optimizer's ``learning_rate``; it is evaluated at the
optimizer's ``iterations`` (the number of steps already taken), i.e. once per
*batch*, as in Keras.  (PyTorch's ``lr_scheduler`` objects are stepped by
hand, usually per epoch; call ``scheduler.step()`` after every optimizer
step to get the same numbers.)  For a per-epoch rule use the
:class:`~tinynlp.callbacks.LearningRateScheduler` callback, and for
reduce-on-plateau the :class:`~tinynlp.callbacks.ReduceLROnPlateau` callback
(re-exported here).

========================  ====================================================
``StepDecay``             lr₀ · γ^⌊step / step_size⌋        (torch ``StepLR``)
``ExponentialDecay``      lr₀ · r^(step / decay_steps)      (⌊⌋ if staircase;
                                                             torch ``ExponentialLR``
                                                             with decay_steps=1)
``CosineDecay``           lr₀ · ((1−α) · ½(1 + cos(π·min(step, T)/T)) + α)
                                                            (torch ``CosineAnnealingLR``
                                                             with eta_min = α·lr₀)
``LinearWarmup``          lr_after(0) · (f₀ + (1−f₀)·step/W) for step < W, then
                          lr_after(step − W)                (torch ``LinearLR``)
========================  ====================================================
"""

from __future__ import annotations

import math

from ..callbacks import ReduceLROnPlateau  # noqa: F401  a callback (it watches validation metrics)


class LearningRateSchedule:
    """Base class: ``__call__(step) -> float`` and ``get_config()``."""

    def __call__(self, step: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _positive(cls, name, value, integer=False):
    ok = isinstance(value, (int, float)) and value > 0
    if integer:
        ok = ok and float(value).is_integer()
    if not ok:
        kind = "a positive integer" if integer else "a positive number"
        raise ValueError(f"{cls}: {name} must be {kind}, got {value!r}")
    return int(value) if integer else float(value)


class StepDecay(LearningRateSchedule):
    """lr(step) = lr₀ · γ^⌊step / step_size⌋  — divide by 1/γ every ``step_size`` steps."""

    def __init__(self, initial_learning_rate, step_size, gamma=0.1):
        self.initial_learning_rate = _positive("StepDecay", "initial_learning_rate",
                                               initial_learning_rate)
        self.step_size = _positive("StepDecay", "step_size", step_size, integer=True)
        self.gamma = _positive("StepDecay", "gamma", gamma)

    def __call__(self, step):
        return self.initial_learning_rate * self.gamma ** (int(step) // self.step_size)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "step_size": self.step_size, "gamma": self.gamma}


class ExponentialDecay(LearningRateSchedule):
    """lr(step) = lr₀ · r^(step / decay_steps)   (exponent floored when ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        self.initial_learning_rate = _positive("ExponentialDecay", "initial_learning_rate",
                                               initial_learning_rate)
        self.decay_steps = _positive("ExponentialDecay", "decay_steps", decay_steps)
        self.decay_rate = _positive("ExponentialDecay", "decay_rate", decay_rate)
        self.staircase = bool(staircase)

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase}


class CosineDecay(LearningRateSchedule):
    """lr(step) = lr₀ · ((1 − α) · ½ (1 + cos(π · min(step, T) / T)) + α),  T = decay_steps.

    Falls from lr₀ to α·lr₀ along half a cosine, then stays there.
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0):
        self.initial_learning_rate = _positive("CosineDecay", "initial_learning_rate",
                                               initial_learning_rate)
        self.decay_steps = _positive("CosineDecay", "decay_steps", decay_steps, integer=True)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"CosineDecay: alpha must be in [0, 1], got {alpha!r}")
        self.alpha = float(alpha)

    def __call__(self, step):
        frac = min(int(step), self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * frac))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha}


class LinearWarmup(LearningRateSchedule):
    """Linear warm-up in front of another schedule (or a constant rate).

    lr(step) = lr_after(0) · (f₀ + (1 − f₀) · step / W)   for step < W = warmup_steps
    lr(step) = lr_after(step − W)                           afterwards

    ``after`` is a float (constant rate) or a schedule; ``start_factor`` f₀ in [0, 1].
    """

    def __init__(self, after, warmup_steps, start_factor=0.0):
        if isinstance(after, dict):
            after = deserialize(after)
        if not (isinstance(after, (int, float)) or callable(after)):
            raise TypeError(f"LinearWarmup: after must be a number or a schedule, got {after!r}")
        self.after = float(after) if isinstance(after, (int, float)) else after
        self.warmup_steps = _positive("LinearWarmup", "warmup_steps", warmup_steps,
                                      integer=True)
        if not 0.0 <= start_factor <= 1.0:
            raise ValueError(f"LinearWarmup: start_factor must be in [0, 1], got {start_factor!r}")
        self.start_factor = float(start_factor)

    def _after(self, step):
        return self.after if isinstance(self.after, float) else float(self.after(step))

    def __call__(self, step):
        step = int(step)
        if step < self.warmup_steps:
            f = self.start_factor + (1.0 - self.start_factor) * step / self.warmup_steps
            return self._after(0) * f
        return self._after(step - self.warmup_steps)

    def get_config(self):
        after = self.after if isinstance(self.after, float) else serialize(self.after)
        return {"after": after, "warmup_steps": self.warmup_steps,
                "start_factor": self.start_factor}


_SCHEDULES = {c.__name__: c for c in (StepDecay, ExponentialDecay, CosineDecay, LinearWarmup)}


def serialize(schedule) -> dict:
    """``{"class_name": ..., "config": ...}`` for a built-in schedule."""
    if type(schedule).__name__ not in _SCHEDULES:
        raise TypeError(f"serialize: {schedule!r} is not a tinynlp schedule")
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict) -> LearningRateSchedule:
    """Rebuild a schedule from :func:`serialize`'s output (names looked up, never executed)."""
    name = config.get("class_name")
    if name not in _SCHEDULES:
        raise ValueError(f"deserialize: unknown schedule {name!r}; known: {sorted(_SCHEDULES)}")
    return _SCHEDULES[name].from_config(config.get("config", {}))


__all__ = ["LearningRateSchedule", "StepDecay", "ExponentialDecay", "CosineDecay",
           "LinearWarmup", "serialize", "deserialize"]
