"""Differentiable ops on Tensors: ``from tinynlp import functional as F``.

Each op's forward and hand-written backward sit side by side in its module,
with the formula and its derivative in the docstring.  The fused fast paths
(``elman_rnn``, ``lstm``, ``gru``, ``conv1d``, ``embedding``) each have a readable
twin built from primitive ops (``*_reference``), tested equal.
"""

from ..autograd.ops import (  # noqa: F401  primitive ops, re-exported
    abs, clip, concat, exp, expand_dims, log, log_softmax, logsumexp, matmul, maximum, pad,
    relu, reshape, sigmoid, softmax, sqrt, squeeze, stack, swapaxes, tanh, transpose, where,
)
from ..autograd.ops import broadcast_to  # noqa: F401
from .activations import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .dense import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .lookup import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
