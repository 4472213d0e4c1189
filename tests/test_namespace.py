"""``import tinynlp as tn``: a clean namespace (``__all__``), every listed name reachable."""

import tinynlp as tn


def test_top_level_namespace_is_clean():
    listed = set(dir(tn))
    assert listed == set(tn.__all__) | {"__version__"}
    for name in ("annotations", "importlib", "tune_malloc", "_LAZY_MODULES"):
        assert name not in listed
    assert not hasattr(tn, "annotations") and not hasattr(tn, "importlib")
    for name in tn.__all__:
        assert getattr(tn, name) is not None
    assert tn.initializers.HeNormal and tn.layers.Masking and tn.models.model_from_json


def test_star_import():
    namespace = {}
    exec("from tinynlp import *", namespace)
    assert {"Sequential", "tensor", "layers", "initializers"} <= set(namespace)
    assert "annotations" not in namespace
