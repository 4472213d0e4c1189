"""benchmarks/gemm_backends.py runs (quick shapes) and checks every backend's product."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _module():
    spec = importlib.util.spec_from_file_location(
        "gemm_backends", os.path.join(ROOT, "benchmarks", "gemm_backends.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_gemm_backends_quick(capsys):
    mod = _module()
    rows = mod.main(["--quick"])
    float_rows = [r for r in rows if "numpy" in r]
    assert len(float_rows) == 3 and all(r["numpy"] > 0 for r in float_rows)
    if mod.find_mkl() is not None:  # each MKL product was checked against NumPy's
        assert all(r["mkl"] > 0 for r in float_rows)
    out = capsys.readouterr().out
    assert "Load average" in out and out.count("| LSTM(") == 3


def test_gemm_backends_without_mkl(capsys):
    rows = _module().main(["--quick", "--no-mkl"])
    assert not any("mkl" in r for r in rows)
    assert "MKL: not measured (--no-mkl)" in capsys.readouterr().out
