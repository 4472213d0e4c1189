"""``tinynlp pretrain --quick`` end to end, resuming bit for bit, and the run's settings."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from tinynlp.cli import main
from tinynlp.models import load_model
from tinynlp.pretrained import (
    classifier,
    encode_texts,
    fine_tune,
    load_pretrained,
    predict_proba,
)
from tinynlp.pretrained.train import NO_DECAY, PretrainConfig, pretrain

TIMING = ("elapsed_s", "cpu_s", "tokens_per_s", "load1")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("pretrain-cache")


def _log(folder):
    with open(folder / "log.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _untimed(records):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def _tool():
    path = Path(__file__).resolve().parents[2] / "tools" / "pretrain_gpt.py"
    spec = importlib.util.spec_from_file_location("pretrain_gpt", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_quick_pretrain_from_the_command_line_and_shipped(tmp_path, cache, capsys):
    """tools/pretrain_gpt.py passes its options to `tinynlp pretrain` (here --quick and
    --export) and, with --ship, writes the package folder and the docs under --root."""
    out, export, root = tmp_path / "run", tmp_path / "model", tmp_path / "root"
    code = _tool().main(["--quick", "--out", str(out), "--cache-dir", str(cache),
                         "--export", str(export), "--ship", "--root", str(root)])
    assert code == 0
    assert "val_perplexity" in capsys.readouterr().out
    for name in ("tinynlp/pretrained/tinygpt/weights.npz", "docs/pretraining_log.jsonl",
                 "docs/pretraining_curve.png", "docs/pretraining_results.md"):
        assert (root / name).is_file(), name
    results = (root / "docs" / "pretraining_results.md").read_text(encoding="utf-8")
    assert "python tools/pretrain_gpt.py --quick" in results and "**LOVE, n.**" in results
    shipped = load_pretrained(root / "tinynlp" / "pretrained" / "tinygpt")
    assert shipped.pretrained_info["command"].startswith("python tools/pretrain_gpt.py")
    for name in ("config.json", "tokenizer.json", "log.jsonl", "curve.png", "summary.json",
                 "checkpoints/state.json", "checkpoints/step-000030.tnz"):
        assert (out / name).is_file(), name
    assert not (out / "checkpoints" / "step-000010.tnz").exists()      # keeps the last two
    log = _log(out)
    train = [r for r in log if "loss" in r]
    val = [r for r in log if "val_loss" in r]
    assert [r["step"] for r in train] == [5, 10, 15, 20, 25, 30]
    assert [r["step"] for r in val] == [10, 20, 30]
    assert train[-1]["loss"] < train[0]["loss"] - 0.5                   # it learns
    assert all(r["tokens"] == r["step"] * 8 * 32 for r in log)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 30 and summary["tokens_seen"] == 30 * 8 * 32
    assert summary["val_perplexity"] == pytest.approx(np.exp(summary["val_loss"]), rel=1e-4)
    assert summary["parameters"] > 0 and summary["wall_time_s"] > 0
    # run again, a finished run is read back: no second evaluation, the same summary file
    before = (out / "summary.json").read_bytes()
    assert pretrain(PretrainConfig.quick(), out=out, cache_dir=cache, verbose=False) == summary
    assert (out / "summary.json").read_bytes() == before
    # the exported folder loads as a float32 GPT with its tokenizer
    gpt = load_pretrained(export)
    assert gpt.weights[0].data.dtype == np.float32 and gpt.tokenizer.vocab_size == 400
    assert gpt.pretrained_info["tokens_seen"] == 30 * 8 * 32
    ids = gpt.tokenizer.encode("The devil")
    assert len(gpt.generate(ids, 5, seed=0)) == len(ids) + 5
    # ... and fine-tunes: pretrain -> fine-tune end to end, on a tiny labelled set
    clf = classifier(gpt, num_classes=1, pooling="mean", dropout=0.0)
    texts, labels = ["a fine warm tale", "a dull cold mess"] * 8, np.array([1, 0] * 8)
    seqs = encode_texts(clf.tokenizer, texts, maxlen=16)
    history = fine_tune(clf, seqs, labels, (seqs[:4], labels[:4]), head_epochs=30, epochs=3,
                        head_learning_rate=0.05, learning_rate=1e-3, batch_size=8,
                        patience=30)
    assert len(history["head"]["loss"]) == 30 and len(history["full"]["loss"]) >= 1
    assert history["head"]["loss"][-1] < history["head"]["loss"][0]        # it learns
    p = predict_proba(clf, seqs)[:, 0]
    assert p.shape == (16,) and p[labels == 1].min() > p[labels == 0].max()  # and separates


@pytest.mark.slow
def test_an_interrupted_run_resumes_bit_for_bit(tmp_path, cache):
    config = PretrainConfig.quick(steps=24, checkpoint_every=8, eval_every=8, log_every=4)
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    pretrain(config, out=whole, cache_dir=cache, verbose=False)
    # killed after step 13: the last checkpoint is step 8, steps 9-13 are done again
    assert pretrain(config, out=broken, cache_dir=cache, verbose=False,
                    stop_at_step=13) == {"stopped_at_step": 13}
    assert len(_log(broken)) > len(json.loads(
        (broken / "checkpoints" / "state.json").read_text())["log"])   # records past the ckpt
    pretrain(config, out=broken, cache_dir=cache, verbose=False)
    a = load_model(whole / "checkpoints" / "step-000024.tnz")
    b = load_model(broken / "checkpoints" / "step-000024.tnz")
    for p, q in zip(a.weights, b.weights):
        np.testing.assert_array_equal(p.data, q.data)
    for p, q in zip(a.optimizer.get_state(a.weights)["slots"],
                    b.optimizer.get_state(b.weights)["slots"]):
        for k in p:
            np.testing.assert_array_equal(p[k], q[k])
    assert _untimed(_log(whole)) == _untimed(_log(broken))
    # the optimizer decays the matrices only, and kept that through the checkpoint
    decayed = {p.name for p in b.weights if b.optimizer.decays(p)}
    assert decayed and all(not any(n in name for n in NO_DECAY) for name in decayed)
    assert any("kernel" in name for name in decayed)


def test_a_folder_holding_another_run_is_refused(tmp_path, cache):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text(json.dumps(PretrainConfig.quick().to_dict()))
    with pytest.raises(ValueError, match=r"other settings \(hidden_dim: 32 -> 48\)"):
        pretrain(PretrainConfig.quick(hidden_dim=48), out=out, cache_dir=cache)


def test_config_checks_and_total_steps():
    assert PretrainConfig().total_steps(16 * 128 * 10 + 1) == 11      # one pass, rounded up
    assert PretrainConfig(epochs=0.5).total_steps(16 * 128 * 10) == 5
    assert PretrainConfig(steps=7).total_steps(10 ** 9) == 7
    assert PretrainConfig(hidden_dim=8).ffn_dim == 32
    with pytest.raises(ValueError, match="hidden_dim must be a positive integer"):
        PretrainConfig(hidden_dim=0)
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        PretrainConfig(learning_rate=0)
    with pytest.raises(ValueError, match="unknown settings"):
        PretrainConfig.from_dict({"hiden_dim": 3})
    c = PretrainConfig.quick(sources=["brown"])
    assert PretrainConfig.from_dict(c.to_dict()) == c and c.sources == ("brown",)


def test_the_command_checks_out_before_anything_runs(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["pretrain", "--quick", "--out", str(blocker / "run")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tinynlp pretrain: error: cannot save the run in ") and \
        err.count("\n") == 1
    with pytest.raises(SystemExit) as e:
        main(["pretrain", "--quick", "--hidden-dim", "0"])
    assert e.value.code == 2
    assert "--hidden-dim: expected a positive integer, got 0" in capsys.readouterr().err


def test_progress_follows_keras_rule(tmp_path, cache, capsys, monkeypatch):
    """verbose=1: one live bar over the steps (redrawn with \\r, the latest validation loss
    in it); verbose=2 (what "auto" gives in a pipe): one line per record; 0: nothing."""
    config = PretrainConfig.quick(steps=10)
    pretrain(config, out=tmp_path / "bar", cache_dir=cache, verbose=1)
    out = capsys.readouterr().out
    bar = out[out.index("pretrain"):]
    assert "\r" in bar and "10/10 [" in bar and "val_loss:" in bar and "\nstep 5 " not in out
    pretrain(config, out=tmp_path / "lines", cache_dir=cache, verbose="auto")
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("step 10  tokens") for line in lines) == 2   # train + val
    assert not any("\r" in line or "[=" in line for line in lines)
    pretrain(config, out=tmp_path / "quiet", cache_dir=cache, verbose=0)
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="pretrain: verbose must be"):
        pretrain(config, out=tmp_path / "bad", cache_dir=cache, verbose=3)
