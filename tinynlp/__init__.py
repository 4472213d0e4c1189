"""tinynlp — a from-scratch deep-learning engine for NLP (NumPy + Numba).

    import tinynlp as tn
    x = tn.tensor(np.random.randn(4, 3), requires_grad=True)

Sub-packages (``tn.layers``, ``tn.text``, ``tn.embeddings``, ...) are imported
on first use, so ``import tinynlp`` stays fast and a problem in one optional
part never breaks the others.
"""

import importlib as _importlib

from ._blas_spin import shorten_blas_spin as _shorten_blas_spin
from ._malloc import tune_malloc as _tune_malloc

_shorten_blas_spin()  # before NumPy loads OpenBLAS: idle BLAS threads sleep after ~0.3 ms
_tune_malloc()  # large temporaries reuse heap memory instead of fresh mmap pages

from . import random  # noqa: E402
from .autograd import (  # noqa: E402
    GradcheckError,
    Tensor,
    enable_grad,
    gradcheck,
    is_grad_enabled,
    no_grad,
    tensor,
)

__version__ = "0.1.0"

# name -> module path, imported lazily (PEP 562)
_LAZY_MODULES = {
    "functional": "tinynlp.functional",
    "kernels": "tinynlp.kernels",
    "layers": "tinynlp.layers",
    "models": "tinynlp.models",
    "optimizers": "tinynlp.optimizers",
    "losses": "tinynlp.losses",
    "callbacks": "tinynlp.callbacks",
    "metrics": "tinynlp.metrics",
    "text": "tinynlp.text",
    "data": "tinynlp.data",
    "datasets": "tinynlp.data.datasets",
    "embeddings": "tinynlp.embeddings",
    "compress": "tinynlp.compress",
    "distributed": "tinynlp.distributed",
    "tasks": "tinynlp.tasks",
    "pretrained": "tinynlp.pretrained",
    "plot": "tinynlp.plot",
    "pretrained": "tinynlp.pretrained",
    "regularizers": "tinynlp.layers.regularizers",
    "initializers": "tinynlp.layers.initializers",
    "progress": "tinynlp.progress",
}
# name -> (module path, attribute)
_LAZY_ATTRS = {
    "Sequential": ("tinynlp.models", "Sequential"),
    "Model": ("tinynlp.models", "Model"),
    "Input": ("tinynlp.models", "Input"),
    "set_num_threads": ("tinynlp.threads", "set_num_threads"),
    "get_num_threads": ("tinynlp.threads", "get_num_threads"),
}


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        module = _importlib.import_module(_LAZY_MODULES[name])
        globals()[name] = module
        return module
    if name in _LAZY_ATTRS:
        path, attr = _LAZY_ATTRS[name]
        value = getattr(_importlib.import_module(path), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tinynlp' has no attribute {name!r}")


__all__ = [
    "Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled",
    "gradcheck", "GradcheckError", "random", *_LAZY_MODULES, *_LAZY_ATTRS,
]


def __dir__():
    """The public names (``__all__``) and ``__version__``; the sub-packages already imported
    (``autograd``, ...) are reachable but not listed."""
    return sorted([*__all__, "__version__"])
