"""Callbacks (``tn.callbacks``): hooks into ``fit`` with Keras' names and semantics.

``History`` (always added; returned by ``fit``), ``EarlyStopping``,
``ModelCheckpoint``, ``ReduceLROnPlateau``, ``LearningRateScheduler``,
``TerminateOnNaN``, ``CSVLogger``, ``ProgressBar`` (``verbose=1``/``2``).
Write your own by subclassing ``Callback``.
"""

from .base import Callback, CallbackList
from .core import (
    CSVLogger,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from .progress import ProgressBar

__all__ = ["Callback", "CallbackList", "History", "EarlyStopping", "ModelCheckpoint",
           "ReduceLROnPlateau", "LearningRateScheduler", "TerminateOnNaN", "CSVLogger",
           "ProgressBar"]
