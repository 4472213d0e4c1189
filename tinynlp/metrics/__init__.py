"""Metrics (``tn.metrics``): functions on arrays and streaming objects for ``compile``.

Functions (see :mod:`tinynlp.metrics.functional` for the formulas):
``accuracy``, ``binary_accuracy``, ``categorical_accuracy``,
``sparse_categorical_accuracy``, ``precision``, ``recall``,
``f1_score(average="binary"|"macro"|"micro"|"weighted")``, ``confusion_matrix``,
``roc_auc``, ``perplexity``; ``distinct_n`` (diversity of generated text,
:mod:`tinynlp.metrics.diversity`).

Streaming objects (see :mod:`tinynlp.metrics.streaming`): ``BinaryAccuracy``,
``CategoricalAccuracy``, ``SparseCategoricalAccuracy``, ``Precision``,
``Recall``, ``F1Score``, ``AUC``, ``Perplexity``, ``Mean``; ``get(name, loss)``.
"""

from .diversity import distinct_n  # noqa: F401
from .functional import (  # noqa: F401
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    confusion_matrix,
    f1_score,
    perplexity,
    precision,
    precision_recall_fscore,
    recall,
    roc_auc,
    sparse_categorical_accuracy,
)
from .streaming import (  # noqa: F401
    AUC,
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    F1Score,
    Mean,
    MeanAbsoluteError,
    MeanMetricWrapper,
    MeanSquaredError,
    Metric,
    Perplexity,
    Precision,
    Recall,
    SparseCategoricalAccuracy,
    get,
)


def __getattr__(name):
    # BLEU lives in metrics/bleu.py (written separately); imported on first use.
    if name in ("bleu", "corpus_bleu", "sentence_bleu", "BleuScore"):
        import importlib
        module = importlib.import_module(".bleu", __name__)
        return module if name == "bleu" else getattr(module, name)
    raise AttributeError(f"module 'tinynlp.metrics' has no attribute {name!r}")
