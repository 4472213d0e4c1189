"""The baby GPT benchmark: its PyTorch twin is the same model, its KV cache decodes the same
tokens, and the script's quick runs agree between the two frameworks."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from benchmarks import gpt_shakespeare, tinynlp_models, torch_models  # noqa: E402
from benchmarks.prepare import initial_weights, torch_layout  # noqa: E402
from benchmarks.specs import get_spec  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pair():
    spec = get_spec("gpt", quick=True)
    w = initial_weights(spec)
    return spec, tinynlp_models.build(spec, w).model, torch_models.build(
        spec, torch_layout(spec, w)).module


def test_cross_entropy_matches_torch():
    rng = np.random.default_rng(0)
    z, y = rng.standard_normal((3, 5, 7)).astype(np.float32), rng.integers(0, 7, (3, 5))
    ref = torch.nn.functional.cross_entropy(torch.tensor(z).reshape(-1, 7),
                                            torch.tensor(y).reshape(-1))
    assert gpt_shakespeare.cross_entropy(z, y) == pytest.approx(float(ref), rel=1e-6)


def test_twin_cache_decodes_like_the_full_forward(pair):
    """The twin's KV cache gives the tokens of re-running the whole prefix each step."""
    spec, _, twin = pair
    twin.eval()
    ids = torch.randint(0, spec.sizes["vocab"], (3, 4), generator=torch.Generator().manual_seed(0))
    new = gpt_shakespeare.new_tokens(spec)
    cached = twin.generate(ids, new)
    seq = ids
    with torch.no_grad():
        for _ in range(new):
            seq = torch.cat([seq, twin(seq)[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(cached, seq)


def test_tinynlp_and_twin_generate_the_same_tokens(pair):
    spec, gpt, twin = pair
    ids = np.random.default_rng(1).integers(0, spec.sizes["vocab"], (2, 5))
    new = gpt_shakespeare.new_tokens(spec)
    ours = gpt.generate(ids, new, temperature=0)
    theirs = twin.generate(torch.from_numpy(ids), new).numpy()
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["train", "generate"])
def test_quick_runs(command, tmp_path):
    out = tmp_path / "gpt.md"
    proc = subprocess.run([sys.executable, "benchmarks/gpt_shakespeare.py", command, "--quick",
                           "--threads", "1", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.with_suffix(".json").read_text())
    tiny, ref = data["results"]
    if command == "train":
        np.testing.assert_allclose(tiny["first_losses"], ref["first_losses"], rtol=1e-5)
        assert tiny["final_val_loss"] < tiny["val_curve"][0][1]       # it learns
        assert abs(tiny["final_val_loss"] - ref["final_val_loss"]) < 1e-3
    else:
        cached = [r for r in tiny["rows"] if r["variant"] == "cache"]
        assert [r["batch"] for r in cached] == [r["batch"] for r in ref["rows"]] == [1, 8]
        for a, b in zip(cached, ref["rows"]):
            assert a["batch"] == b["batch"] and a["tokens_per_s"] > 0
            assert a["tokens"] == b["tokens"]
    assert "provisional" in out.read_text() or "load average" in out.read_text()


@pytest.mark.parametrize("start,end,threads,shared", [
    (0.3, 0.99, "1", False),      # a quiet 1-thread run ends near a load of its own 1
    (0.3, 1.8, "1", True),        # something else ran too
    (0.6, 0.9, "1", True),        # busy before it started
    (0.2, 2.3, "2", False),
    (0.2, 2.7, "2", True),
])
def test_provisional_only_when_others_shared_the_machine(start, end, threads, shared):
    data = {"load_start": (start, 0, 0), "load_end": (end, 0, 0), "threads": threads}
    assert gpt_shakespeare.machine_was_shared(data) is shared


def test_report_only_rewrites_the_markdown_from_the_json(tmp_path):
    src = Path(gpt_shakespeare.__file__).with_name("gpt_generate_results.json")
    data = json.loads(src.read_text())
    (tmp_path / "r.json").write_text(json.dumps(data))
    assert gpt_shakespeare.main(["generate", "--report-only", str(tmp_path / "r.json")]) == 0
    text = (tmp_path / "r.md").read_text()
    live = dict(data, load_start=tuple(data["load_start"]), load_end=tuple(data["load_end"]))
    assert text == gpt_shakespeare.markdown(live) and "tokens/s" in text
    assert text == src.with_suffix(".md").read_text()      # the committed report is this
