"""Loading a benchmark script (``benchmarks/<name>.py``) as a module in a test."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_script(name, argv):
    """``benchmarks/<name>.py``'s ``main(argv)``; tinynlp's thread count (which the
    script sets) back to the automatic choice afterwards."""
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(ROOT, "benchmarks", f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
        return mod.main(argv)
    finally:
        import tinynlp as tn
        tn.set_num_threads(None)
