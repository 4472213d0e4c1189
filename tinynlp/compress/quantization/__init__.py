"""int8 quantization: weights and activations as 8-bit integers with float scales.

One module per idea: :mod:`.tensors` (quantize / dequantize an array),
:mod:`.qat` (fake quantization for quantization-aware training),
:mod:`.layers` and :mod:`.recurrent` (the int8 layers), :mod:`.convert`
(:func:`quantize_dynamic`, :func:`calibrate`).  The int8 products are
:mod:`tinynlp.kernels.int8`; the layers reuse the floors below for the rest
(conv padding and im2col, the activations, the recurrent cells' loops).

Symmetric linear quantization
-----------------------------
A float tensor ``w`` is stored as int8 codes ``q`` and a float32 scale ``s``::

    s = max|w| / 127          q = clip(round(w / s), −127, 127)          w ≈ s · q

so every element is off by at most half a step, ``|w − s·q| ≤ s/2``.  With
``per_channel=True`` each slice along ``axis`` (each output unit of a Dense
kernel, each filter of a convolution, each row of an embedding table) gets
its own scale, which keeps a channel with small weights from being crushed
by one with large weights.

Dynamic quantization
--------------------
:func:`quantize_dynamic` returns a new model in which ``Dense``, ``Conv1D``,
``SimpleRNN``/``LSTM``/``GRU`` hold int8 kernels (per output channel) and run
int8 × int8 → int32 products (:mod:`tinynlp.kernels.int8`): each row of the
input is quantized on the fly with its own scale (*dynamic*), the integer
product is exact, and one multiplication by ``s_row · s_channel`` brings it
back to float32.  ``Embedding`` keeps an int8 table with one scale per row (a
lookup needs no product).  Biases, gate non-linearities and the recurrent
cell state stay float32.

:func:`calibrate` replaces the dynamic activation scales with *static* ones
measured on sample data (``max|x| / 127`` over the sample), which saves the
per-row max at inference time at the price of clipping inputs larger than
anything seen in calibration.

Quantization-aware training
---------------------------
:func:`prepare_qat` makes the float layers compute with *fake-quantized*
weights — rounded to the int8 grid and back in the forward pass
(:class:`FakeQuantize`), while the backward pass treats the rounding as the
identity inside the clipping range (the straight-through estimator).  A few
epochs of fine-tuning this way let the weights settle where rounding hurts
least; :func:`strip_qat` removes the wrappers, then :func:`quantize_dynamic`
converts.

The quantized layers are inference-only (no gradients flow through int8
weights); they are registered layer classes, so a quantized model saves and
loads like any other (its int8 weights are stored as int8).
"""

from .convert import calibrate, int8_parameters, is_quantized, quantize_dynamic
from .layers import QuantizedConv1D, QuantizedDense, QuantizedEmbedding
from .qat import FakeQuantize, fake_quantize, prepare_qat, strip_qat
from .recurrent import QuantizedGRU, QuantizedLSTM, QuantizedSimpleRNN
from .tensors import dequantize, quantization_error, quantize_tensor

__all__ = [
    "quantize_tensor", "dequantize", "quantization_error",
    "quantize_dynamic", "calibrate", "is_quantized",
    "FakeQuantize", "fake_quantize", "prepare_qat", "strip_qat",
    "QuantizedDense", "QuantizedEmbedding", "QuantizedConv1D",
    "QuantizedSimpleRNN", "QuantizedLSTM", "QuantizedGRU", "int8_parameters",
]
