"""Data: bundled real data sets, padded batches, splits, class-imbalance tools.

    (x_train, y_train), (x_test, y_test) = tn.datasets.load_rotten_tomatoes()
    X_res, y_res = tn.data.RandomOverSampler(random_state=0).fit_resample(X, y)

``tn.datasets`` is this package's ``datasets`` module; it is imported on first
use so that ``import tinynlp.data`` reads no file.
"""

from .batching import Batch, BatchLoader, batch_indices, bucketing_report, padding_fraction
from .resample import (
    RandomOverSampler,
    RandomUnderSampler,
    class_weight_dict,
    compute_class_weight,
)
from .split import train_test_split, train_val_test_split

__all__ = [
    "Batch", "BatchLoader", "batch_indices", "bucketing_report", "padding_fraction",
    "RandomOverSampler", "RandomUnderSampler", "compute_class_weight", "class_weight_dict",
    "train_test_split", "train_val_test_split", "datasets",
]


def __getattr__(name):
    if name == "datasets":
        import importlib
        module = importlib.import_module(".datasets", __name__)
        globals()["datasets"] = module
        return module
    raise AttributeError(f"module 'tinynlp.data' has no attribute {name!r}")
