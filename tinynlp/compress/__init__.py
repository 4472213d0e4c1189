"""Model compression: magnitude pruning, int8 quantization, knowledge distillation,
and sharded / lazily loaded checkpoints (model splitting).

    import tinynlp as tn
    C = tn.compress

    # pruning: zero the smallest weights, keep them zero through fine-tuning
    C.prune_magnitude(model, amount=0.9, scope="global")          # kernels by default
    C.prune_magnitude(model, amount=0.5, structured=True)          # whole units / filters
    model.fit(x, y, callbacks=[C.PolynomialDecaySparsity(0.9, end_step=2000)])
    print(C.sparsity_report(model))
    C.save_pruned(model, "m.npz"); model = C.load_pruned("m.npz")  # CSR on disk

    # int8: quantized weights, int8 x int8 -> int32 kernels
    q, scale = C.quantize_tensor(w, per_channel=True)             # |w - scale*q| <= scale/2
    qmodel = C.quantize_dynamic(model)                             # a new model
    qmodel = C.calibrate(qmodel, x_sample)                         # static activation scales
    C.prepare_qat(model); model.fit(...); C.strip_qat(model)       # quantization-aware training

    # distillation: a small student learns from a teacher's softened outputs
    C.distill(teacher, student, x, y, temperature=2.0, alpha=0.5, epochs=3)
    loss = C.DistillationLoss(temperature=2.0); student.compile("adam", loss)
    student.fit(x, loss.pack(y, teacher.predict(x)))

    # model splitting
    C.save_sharded(model, "ckpt/", max_shard_size="2MB")
    lazy = C.load_sharded("ckpt/", lazy=True)                      # memory-mapped
    y = C.layer_by_layer_predict("ckpt/", x)                       # one layer in memory

Each submodule's docstring gives the formulas: :mod:`.pruning`,
:mod:`.quantization` (kernels in :mod:`tinynlp.kernels.int8` and, on VNNI CPUs,
:mod:`tinynlp.kernels.int8_gemm`),
:mod:`.distillation`, :mod:`.sharding`, :mod:`.sparse_storage`.  ``benchmarks/compression_report.py``
measures all of them on the bundled sentiment task.
"""

from .pruning import (  # noqa: F401
    PolynomialDecaySparsity, PruningMask, polynomial_decay_sparsity, prune_magnitude,
    pruning_masks, remove_pruning, sparsity, sparsity_report, sparsity_stats,
    zero_pruned_gradients,
)
from .sparse_storage import (  # noqa: F401
    PrunedFormatError, from_csr, load_pruned, save_pruned, to_csr,
)
from .quantization import (  # noqa: F401
    FakeQuantize, QuantizedConv1D, QuantizedDense, QuantizedEmbedding, QuantizedGRU,
    QuantizedLSTM, QuantizedSimpleRNN, calibrate, dequantize, fake_quantize, int8_parameters,
    is_quantized, prepare_qat, quantization_error, quantize_dynamic, quantize_tensor, strip_qat,
)
from .distillation import (  # noqa: F401
    DistillationHistory, DistillationLoss, distill, distillation_loss, soft_targets,
)
from .sharding import (  # noqa: F401
    ShardedCheckpoint, ShardError, layer_by_layer_predict, load_sharded, peak_memory,
    save_sharded,
)
