"""Numba kernels on plain arrays (no Tensor, no autograd).

Every fast kernel has a pure-NumPy reference twin named ``<kernel>_reference``
and a test asserting they agree.  All kernels use ``cache=True``; set
``NUMBA_DISABLE_JIT=1`` to step through them in a debugger.
"""
