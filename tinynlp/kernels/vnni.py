"""Three vector operations for the int8 GEMM: AVX-512 VNNI from Numba, with NumPy twins.

A *vector* here is sixteen int32 lanes (one 512-bit register).  The operations:

* :func:`vzero` — sixteen zeros;
* :func:`vdot4` ``(acc, a, ia, w, iw)`` — ``acc_j + Σ_{t<4} a[ia+t] · w[iw+4j+t]`` for
  ``j < 16``: four uint8 activations (broadcast to every lane) times the sixteen
  groups of four int8 weights at ``w[iw : iw+64]``, summed in each lane.  That is
  exactly one ``vpdpbusd`` (u8 × s8 → s32, four products per lane; int32 wraps);
* :func:`vstore_sub` ``(out, io, acc, sub, isub)`` — ``out[io:io+16] = acc − sub[isub:isub+16]``.

Plain Numba loops over int8 data vectorize to ``vpmaddwd`` / ``vpdpwssd`` (16-bit
products, half the work per instruction) but LLVM does not form ``vpdpbusd``
from them, so :func:`vdot4` calls LLVM's intrinsic ``llvm.x86.avx512.vpdpbusd.512``
directly (:func:`numba.extending.intrinsic`).  Each operation is a plain Python
function on NumPy arrays (the readable twin, and what runs under
``NUMBA_DISABLE_JIT=1``) with an :func:`numba.extending.overload` that jitted code
uses instead.  :data:`HAS_VNNI` says whether the CPU Numba compiles for has the
instruction; the int8 GEMM uses these operations only when it does.
"""

from __future__ import annotations

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils, config
from numba.extending import intrinsic, models, overload, register_model

__all__ = ["HAS_VNNI", "LANES", "vdot4", "vstore_sub", "vzero"]

#: int32 lanes in one vector
LANES = 16


def _target_has_vnni():
    """True when Numba compiles for a CPU with AVX-512 VNNI (``NUMBA_CPU_NAME`` /
    ``NUMBA_CPU_FEATURES`` respected: a generic target gets the portable kernels)."""
    if config.CPU_NAME and config.CPU_NAME != "host":
        features = config.CPU_FEATURES or ""
    else:
        try:
            features = llvm.get_host_cpu_features().flatten()
        except RuntimeError:  # LLVM cannot tell on this platform: the portable kernels
            features = ""
    return "+avx512vnni" in features.split(",")


HAS_VNNI = _target_has_vnni()


# --------------------------------------------------------------------------
# the readable twins (NumPy; also the JIT-off path)
# --------------------------------------------------------------------------

def vzero():
    """Sixteen int32 zeros."""
    return np.zeros(LANES, np.int32)


def vdot4(acc, a, ia, w, iw):
    """``acc_j + Σ_{t<4} a[ia+t] · w[iw+4j+t]`` (a uint8, w int8, int32 lanes, wrapping)."""
    a4 = a[ia:ia + 4].astype(np.int32)
    w64 = w[iw:iw + 4 * LANES].astype(np.int32).reshape(LANES, 4)
    return acc + (w64 * a4).sum(axis=1, dtype=np.int32)


def vstore_sub(out, io, acc, sub, isub):
    """``out[io:io+16] = acc − sub[isub:isub+16]`` (int32)."""
    out[io:io + LANES] = acc - sub[isub:isub + LANES]


# --------------------------------------------------------------------------
# the compiled versions: an int32x16 Numba type held in one LLVM vector register
# --------------------------------------------------------------------------

_I32 = ir.IntType(32)
_VEC = ir.VectorType(_I32, LANES)


class Int32x16(types.Type):
    """Numba type of a vector of sixteen int32 lanes (only inside jitted code)."""

    def __init__(self):
        super().__init__(name="int32x16")


int32x16 = Int32x16()


@register_model(Int32x16)
class _Int32x16Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VEC)


def _element_pointer(context, builder, array_type, array, index, pointee):
    """A pointer to ``array[index]`` (a 1-D C array) cast to ``pointee*``."""
    data = context.make_array(array_type)(context, builder, array).data
    return builder.bitcast(builder.gep(data, [index]), pointee.as_pointer())


@intrinsic
def _vzero(typingctx):
    def codegen(context, builder, sig, args):
        return ir.Constant(_VEC, None)
    return int32x16(), codegen


@intrinsic
def _vdot4(typingctx, acc, a, ia, w, iw):
    def codegen(context, builder, sig, args):
        acc_v, a_arr, ia_v, w_arr, iw_v = args
        four = builder.load(_element_pointer(context, builder, sig.args[1], a_arr, ia_v, _I32),
                            align=1)  # the four uint8 activations as one int32
        lanes = builder.insert_element(ir.Constant(_VEC, None), four, ir.Constant(_I32, 0))
        lanes = builder.shuffle_vector(lanes, lanes, ir.Constant(_VEC, None))  # broadcast
        weights = builder.load(_element_pointer(context, builder, sig.args[3], w_arr, iw_v, _VEC),
                               align=1)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VEC, [_VEC] * 3),
                                            "llvm.x86.avx512.vpdpbusd.512")
        return builder.call(fn, [acc_v, lanes, weights])
    if a.dtype != types.uint8 or w.dtype != types.int8 or a.ndim != 1 or w.ndim != 1:
        return None
    return int32x16(acc, a, ia, w, iw), codegen


@intrinsic
def _vstore_sub(typingctx, out, io, acc, sub, isub):
    def codegen(context, builder, sig, args):
        out_arr, io_v, acc_v, sub_arr, isub_v = args
        s = builder.load(_element_pointer(context, builder, sig.args[3], sub_arr, isub_v, _VEC),
                         align=4)
        builder.store(builder.sub(acc_v, s),
                      _element_pointer(context, builder, sig.args[0], out_arr, io_v, _VEC),
                      align=4)
        return context.get_dummy_value()
    if out.dtype != types.int32 or sub.dtype != types.int32 or out.ndim != 1 or sub.ndim != 1:
        return None
    return types.none(out, io, acc, sub, isub), codegen


@overload(vzero)
def _vzero_jit():
    return lambda: _vzero()


@overload(vdot4)
def _vdot4_jit(acc, a, ia, w, iw):
    return lambda acc, a, ia, w, iw: _vdot4(acc, a, ia, w, iw)


@overload(vstore_sub)
def _vstore_sub_jit(out, io, acc, sub, isub):
    return lambda out, io, acc, sub, isub: _vstore_sub(out, io, acc, sub, isub)
