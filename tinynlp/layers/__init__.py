"""Parameter-holding layers with Keras' names and semantics."""

from . import initializers  # noqa: F401
from .base import Layer, Parameter  # noqa: F401
