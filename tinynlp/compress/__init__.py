"""Model compression: magnitude pruning, int8 quantization, knowledge distillation,
and sharded / lazily loaded checkpoints (model splitting).

    tn.compress.prune_magnitude(model, amount=0.9, scope="global")
    qmodel = tn.compress.quantize_dynamic(model)           # int8 weights, int8 kernels
    tn.compress.distill(teacher, student, x, y, temperature=2.0, alpha=0.5)
    tn.compress.save_sharded(model, "ckpt/", max_shard_size="2MB")
    lazy = tn.compress.load_sharded("ckpt/", lazy=True)
"""

from .pruning import (  # noqa: F401
    PolynomialDecaySparsity, PruningMask, from_csr, load_pruned, polynomial_decay_sparsity,
    prune_magnitude, pruning_masks, remove_pruning, save_pruned, sparsity, sparsity_report,
    sparsity_stats, to_csr, zero_pruned_gradients,
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
