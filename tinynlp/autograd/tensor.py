"""The autograd core: ``Tensor``, ``Function`` and the backward pass.

A :class:`Tensor` wraps an ``np.ndarray`` (``.data``).  When it was produced by
an op while gradients are enabled it also remembers the :class:`Node` that made
it.  A node holds the op (a :class:`Function` subclass), the op's saved context
and the input tensors.  ``loss.backward()`` walks the nodes once, in reverse
topological order, calling each op's hand-written ``backward`` and
*accumulating* the gradients it returns into the inputs.

Writing an op::

    class Cube(Function):
        '''y = x³;   dL/dx = dL/dy · 3x²'''

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, grad_y):
            (x,) = ctx.saved
            return grad_y * 3.0 * x * x

    y = Cube.apply(x)          # x a Tensor; y a Tensor with a graph node

``forward`` receives plain arrays (and any keyword arguments); ``backward``
receives the output gradient(s) and returns one gradient per positional input
(``None`` where there is none).  Ops that may broadcast call
:func:`unbroadcast` in their backward — the one place broadcasting is undone.
"""

from __future__ import annotations

import contextlib
import threading
import weakref

import numpy as np

from ..kernels.scatter import scatter_add_rows

# --------------------------------------------------------------------------
# grad mode
# --------------------------------------------------------------------------

_state = threading.local()


def is_grad_enabled() -> bool:
    """True unless inside :func:`no_grad`."""
    return getattr(_state, "grad_enabled", True)


@contextlib.contextmanager
def _set_grad_enabled(flag: bool):
    previous = is_grad_enabled()
    _state.grad_enabled = flag
    try:
        yield
    finally:
        _state.grad_enabled = previous


def no_grad():
    """Context manager: ops inside build no graph (inference, optimizer steps)."""
    return _set_grad_enabled(False)


def enable_grad():
    """Context manager: re-enable graph building inside a :func:`no_grad` block."""
    return _set_grad_enabled(True)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` down to ``shape``: the backward of NumPy broadcasting.

    Broadcasting prepends axes and stretches size-1 axes; the gradient of a
    value used many times is the sum of its uses, so we sum over exactly those
    axes.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


def _is_float(dtype) -> bool:
    return np.issubdtype(dtype, np.floating)


def as_array(value, dtype=None) -> np.ndarray:
    """An ndarray from a Tensor, an ndarray, a list or a scalar.

    Python lists and scalars become float32 (like PyTorch); ndarrays keep
    their dtype.
    """
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray):
        return value if dtype is None else value.astype(dtype, copy=False)
    if isinstance(value, np.generic):
        arr = np.asarray(value)
        return arr if dtype is None else arr.astype(dtype)
    arr = np.asarray(value)
    if dtype is not None:
        return arr.astype(dtype)
    if arr.dtype.kind in "fc" or arr.dtype == object:
        return arr.astype(np.float32)
    if arr.dtype.kind == "b":
        return arr
    if arr.dtype.kind in "iu":
        # integer lists stay integer (token ids); plain int scalars become floats
        return arr.astype(np.int64) if arr.ndim > 0 else arr.astype(np.float32)
    return arr


def as_tensor(value) -> "Tensor":
    """``value`` as a Tensor: a Tensor unchanged, anything else wrapped (no copy of an
    ndarray; lists and scalars as :func:`as_array` converts them)."""
    return value if isinstance(value, Tensor) else Tensor(as_array(value), _copy=False)


def to_numpy(value) -> np.ndarray:
    """The ndarray behind ``value``: a Tensor's ``.data``, a PyTorch tensor's values
    (duck-typed, torch is never imported), else ``np.asarray`` (dtype unchanged)."""
    if isinstance(value, Tensor):
        return value.data
    if not isinstance(value, np.ndarray) and hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def shape_of(value) -> tuple:
    """The shape of a Tensor, an ndarray or anything ``np.shape`` understands."""
    return value.shape if isinstance(value, (Tensor, np.ndarray)) else np.shape(value)


class RowSparseGrad:
    """A gradient that is zero except on some rows: ``dense[indices] += values``.

    The embedding op returns this when asked for ``sparse=True`` (as PyTorch's
    ``nn.Embedding(sparse=True)`` returns a sparse gradient): a lookup of B·T ids
    in a 20,000-row table touches at most B·T rows, so neither the gradient
    nor an optimizer step needs to visit the others.  ``indices`` may repeat;
    :meth:`coalesce` sums repeated rows.
    """

    __slots__ = ("indices", "values", "shape")
    __array_ufunc__ = None  # ndarray + RowSparseGrad -> RowSparseGrad.__radd__

    def __init__(self, indices, values, shape):
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        self.values = values.reshape(len(self.indices), *shape[1:])
        self.shape = tuple(shape)

    @property
    def dtype(self):
        return self.values.dtype

    def coalesce(self) -> "RowSparseGrad":
        """Sum the rows of repeated indices: unique, sorted ``indices``."""
        uniq, inverse = np.unique(self.indices, return_inverse=True)
        if len(uniq) == len(self.indices):
            order = np.argsort(self.indices)
            return RowSparseGrad(self.indices[order], self.values[order], self.shape)
        summed = np.zeros((len(uniq),) + self.values.shape[1:], dtype=self.values.dtype)
        scatter_add_rows(summed.reshape(len(uniq), -1), inverse.astype(np.int64),
                         self.values.reshape(len(self.indices), -1))
        return RowSparseGrad(uniq, summed, self.shape)

    def to_dense(self) -> np.ndarray:
        dense = np.zeros(self.shape, dtype=self.values.dtype)
        scatter_add_rows(dense.reshape(self.shape[0], -1), self.indices,
                         self.values.reshape(len(self.indices), -1))
        return dense

    def astype(self, dtype):
        return RowSparseGrad(self.indices, self.values.astype(dtype), self.shape)

    def copy(self):
        return RowSparseGrad(self.indices.copy(), self.values.copy(), self.shape)

    def __add__(self, other):
        if isinstance(other, RowSparseGrad):
            return RowSparseGrad(np.concatenate([self.indices, other.indices]),
                                 np.concatenate([self.values, other.values]), self.shape)
        out = np.array(other, copy=True)
        scatter_add_rows(out.reshape(self.shape[0], -1), self.indices,
                         self.values.reshape(len(self.indices), -1))
        return out

    __radd__ = __add__

    def __repr__(self):
        return f"RowSparseGrad({len(self.indices)} rows of a {self.shape} gradient)"


# --------------------------------------------------------------------------
# Function, Context, Node
# --------------------------------------------------------------------------

class Context:
    """What an op's forward leaves for its backward."""

    __slots__ = ("saved", "needs_input_grad", "__dict__")

    def __init__(self):
        self.saved = ()
        self.needs_input_grad = ()

    def save_for_backward(self, *arrays):
        self.saved = arrays


class Node:
    """One application of an op in the graph."""

    __slots__ = ("fn", "ctx", "inputs", "n_outputs", "outputs", "freed")

    def __init__(self, fn, ctx, inputs, n_outputs):
        self.fn = fn
        self.ctx = ctx
        self.inputs = inputs  # tuple of Tensor-or-None, one per positional input
        self.n_outputs = n_outputs
        self.outputs = []  # weakrefs to the output tensors (for retain_grad)
        self.freed = False


class Function:
    """Base class of every differentiable op: see the module docstring.

    ``differentiable`` lists the positions of the inputs that can receive a
    gradient (``None`` = all).  Tensors at other positions (token ids, masks)
    may have any dtype.
    """

    differentiable: tuple | None = None
    #: True when ``backward`` returns freshly allocated gradient arrays that it keeps
    #: no reference to and never returns twice (e.g. the result of a GEMM or of
    #: ``np.zeros`` + scatter-add).  A leaf's first gradient then takes the array
    #: itself instead of a defensive copy — for an embedding table that copy is as
    #: large as the table.  Arrays that are views (``base`` set) are always copied.
    fresh_grads: bool = False

    @staticmethod
    def forward(ctx, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def run(cls, *arrays, **kwargs):
        """The forward on plain arrays, nothing recorded and no gradient wanted.

        What :meth:`apply` computes under ``no_grad`` — the same numbers — without
        wrapping inputs and outputs in Tensors: the layers' inference paths
        (``call_arrays``) chain ops this way.
        """
        ctx = Context()
        ctx.needs_input_grad = (False,) * len(arrays)
        return cls.forward(ctx, *arrays, **kwargs)

    @classmethod
    def apply(cls, *inputs, **kwargs):
        arrays = []
        needs = []
        track = False
        diff = cls.differentiable
        for i, x in enumerate(inputs):
            if isinstance(x, Tensor):
                arrays.append(x.data)
                if diff is None or i in diff:
                    if x.data.dtype.kind != "f":
                        raise TypeError(
                            f"{cls.__name__}: input {i} must be a floating-point tensor, got "
                            f"dtype {x.data.dtype} (integer tensors hold token ids; convert "
                            "with .astype('float32') if you mean numbers)"
                        )
                    wants = x.requires_grad
                else:
                    wants = False
                needs.append(wants)
                track = track or wants
            else:
                arrays.append(x)
                needs.append(False)
        ctx = Context()
        track = track and is_grad_enabled()
        ctx.needs_input_grad = tuple(needs)
        out = cls.forward(ctx, *arrays, **kwargs)
        if isinstance(out, tuple):
            outs = tuple(Tensor(o, _copy=False) for o in out)
        else:
            outs = (Tensor(out, _copy=False),)
        if track:
            node = Node(
                cls, ctx,
                tuple(x if isinstance(x, Tensor) and n else None for x, n in zip(inputs, needs)),
                len(outs),
            )
            for k, o in enumerate(outs):
                if _is_float(o.data.dtype):
                    o.requires_grad = True
                    o._node = node
                    o._index = k
                node.outputs.append(weakref.ref(o))
        return outs if isinstance(out, tuple) else outs[0]


# --------------------------------------------------------------------------
# Tensor
# --------------------------------------------------------------------------

class Tensor:
    """An n-dimensional array that can remember how it was computed.

    ``data``: the ``np.ndarray``;  ``grad``: an ``np.ndarray`` of the same shape
    (``None`` until a backward pass reaches it);  ``requires_grad``: whether
    gradients flow to it.
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "_index", "_retain", "name",
                 "__weakref__")
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor

    def __init__(self, data, requires_grad: bool = False, dtype=None, name=None, _copy=True):
        if isinstance(data, Tensor):
            data = data.data
        arr = as_array(data, dtype)
        if requires_grad and not _is_float(arr.dtype):
            raise TypeError(
                f"tensor: requires_grad=True needs a floating-point dtype, got {arr.dtype} "
                "(integer tensors hold token ids and are never differentiable)"
            )
        self.data = arr
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._node = None
        self._index = 0
        self._retain = False
        self.name = name

    # ---- basic properties -------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self):
        return self.data.size

    @property
    def is_leaf(self):
        return self._node is None

    def __len__(self):
        return len(self.data)

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self):
        return self.data.item()

    def __repr__(self):
        extra = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.data, precision=4, separator=", ", prefix="tensor(")
        return f"tensor({body}, dtype={self.data.dtype}{extra})"

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                "use .data.any() or .data.all()"
            )
        return bool(self.data)

    # ---- gradient lifecycle -----------------------------------------------
    def zero_grad(self):
        """Forget the accumulated gradient (gradients add up until this is called)."""
        self.grad = None

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (shares memory)."""
        return Tensor(self.data, _copy=False)

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        if flag and not _is_float(self.data.dtype):
            raise TypeError(f"requires_grad_: needs a floating-point dtype, got {self.data.dtype}")
        if not self.is_leaf:
            raise RuntimeError("requires_grad_ can only change leaf tensors")
        self.requires_grad = bool(flag)
        return self

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward (as in PyTorch)."""
        self._retain = True
        return self

    def backward(self, grad=None, retain_graph: bool = False, leaf_grads: dict | None = None):
        """Back-propagate from this tensor; see :func:`backward`."""
        backward(self, grad, retain_graph=retain_graph, leaf_grads=leaf_grads)

    # The operators (``+``, ``@``, ``[]`` ...), the op methods (``sum``, ``reshape``, ``T``,
    # ``astype`` ...) are the ops of :mod:`tinynlp.autograd.ops`, bound to this class by
    # :func:`tinynlp.autograd.methods.bind_tensor_methods` (the ops are defined after it).


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Make a :class:`Tensor`.

    ndarrays keep their dtype (float64 stays float64); Python lists and scalars
    of floats become float32; integer lists become int64 (token ids).
    """
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray) and dtype is None:
        data = data.copy()
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


# --------------------------------------------------------------------------
# backward
# --------------------------------------------------------------------------

def _toposort(root_node: Node) -> list:
    """Nodes reachable from ``root_node``, each after every node it feeds (iterative DFS)."""
    order = []
    visited = {id(root_node)}
    stack = [(root_node, iter(root_node.inputs))]
    while stack:
        node, it = stack[-1]
        advanced = False
        for t in it:
            if t is None or t._node is None:
                continue
            parent = t._node
            if id(parent) not in visited:
                visited.add(id(parent))
                stack.append((parent, iter(parent.inputs)))
                advanced = True
                break
        if not advanced:
            stack.pop()
            order.append(node)
    return order  # parents before children


def _add_leaf_grad(t: Tensor, g, fresh: bool, leaf_grads: dict | None) -> None:
    """Add ``g`` to leaf ``t``'s gradient: ``t.grad``, or its entry in ``leaf_grads``.  The
    first gradient is taken as it is only when its op made it fresh (``fresh_grads``) and
    it is no view; otherwise it is copied, so that no gradient aliases another array."""
    prev = t.grad if leaf_grads is None else leaf_grads.get(id(t), (t, None))[1]
    if prev is None:
        owned = fresh and isinstance(g, np.ndarray) and g.base is None
        total = g if owned else g.copy()
    else:
        total = prev + g
    if leaf_grads is None:
        t.grad = total
    else:
        leaf_grads[id(t)] = (t, total)


def add_leaf_grads(leaf_grads: dict) -> None:
    """Add the gradients that ``backward(..., leaf_grads=leaf_grads)`` collected into their
    leaves' ``.grad`` (call it once per dict, in a fixed order, for sums that repeat)."""
    for t, g in leaf_grads.values():
        # the dict's gradients are its own arrays (_add_leaf_grad copied any view)
        t.grad = g if t.grad is None else t.grad + g


def backward(root: Tensor, grad=None, retain_graph: bool = False,
             leaf_grads: dict | None = None) -> None:
    """Reverse-mode differentiation from ``root``.

    Gradients are *added* into ``.grad`` of every leaf tensor with
    ``requires_grad`` (call ``zero_grad`` between steps).  Unless
    ``retain_graph=True`` the graph's saved arrays are freed afterwards, and a
    second ``backward`` through it raises an error instead of silently
    doubling gradients.

    ``leaf_grads``: a dict to collect the leaves' gradients in instead, as
    ``{id(leaf): (leaf, gradient)}``, leaving ``.grad`` untouched.  Several
    backwards through separate graphs that share leaves can then run on
    separate threads, and the caller adds their dicts up in a fixed order (a
    train step in blocks of the batch: :mod:`tinynlp.models.train_blocks`).
    """
    if not root.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad (no input had "
            "requires_grad=True, or it was computed under no_grad())"
        )
    if grad is None:
        if root.data.size != 1:
            raise ValueError(
                f"backward: a gradient must be given for a non-scalar output of shape "
                f"{root.shape} (e.g. backward(np.ones({root.shape})))"
            )
        grad = np.ones_like(root.data)
    else:
        grad = as_array(grad)
        if grad.shape != root.shape:
            raise ValueError(
                f"backward: grad must have the output's shape {root.shape}, got {grad.shape}"
            )
        grad = grad.astype(root.data.dtype, copy=False)

    if root._node is None:  # a leaf: d root / d root = grad
        _add_leaf_grad(root, grad, False, leaf_grads)
        return

    order = _toposort(root._node)
    pending = {id(root._node): [None] * root._node.n_outputs}
    pending[id(root._node)][root._index] = grad

    for node in reversed(order):
        out_grads = pending.pop(id(node), None)
        if out_grads is None:
            continue  # nothing flowed into this node
        if node.freed:
            raise RuntimeError(
                f"backward: trying to go through the graph a second time (op {node.fn.__name__}); "
                "its saved values were freed after the first backward. "
                "Call backward(retain_graph=True) the first time if you need this."
            )
        # retain_grad on non-leaf outputs
        for k, ref in enumerate(node.outputs):
            t = ref()
            if t is not None and t._retain and out_grads[k] is not None:
                t.grad = out_grads[k].copy() if t.grad is None else t.grad + out_grads[k]
        if node.n_outputs == 1:
            in_grads = node.fn.backward(node.ctx, out_grads[0])
        else:
            filled = []
            for k, g in enumerate(out_grads):
                if g is None:
                    ref = node.outputs[k]()
                    g = None if ref is None else np.zeros_like(ref.data)
                filled.append(g)
            in_grads = node.fn.backward(node.ctx, *filled)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if not retain_graph:
            node.ctx = None
            node.freed = True
        for t, g in zip(node.inputs, in_grads):
            if t is None or g is None:
                continue
            if g.shape != t.data.shape:
                raise RuntimeError(
                    f"internal error in {node.fn.__name__}.backward: gradient of shape "
                    f"{g.shape} for an input of shape {t.data.shape}"
                )
            if g.dtype != t.data.dtype:
                g = g.astype(t.data.dtype)
            if t._node is None:
                _add_leaf_grad(t, g, node.fn.fresh_grads, leaf_grads)
            else:
                slot = pending.setdefault(id(t._node), [None] * t._node.n_outputs)
                prev = slot[t._index]
                slot[t._index] = g if prev is None else prev + g
