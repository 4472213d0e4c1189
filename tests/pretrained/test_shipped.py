"""Pretrained folders: float16 (or float32) weights + tokenizer + config, and their errors."""

import json

import numpy as np
import pytest

import tinynlp as tn
from tinynlp.pretrained import PretrainedFormatError, load_pretrained, save_pretrained
from tinynlp.text import BPETokenizer


@pytest.fixture(scope="module")
def small():
    tok = BPETokenizer.train(["the cat sat on the mat"] * 4, 270)
    tn.random.seed(3)
    gpt = tn.models.GPT(tok.vocab_size, 16, 2, 2, 16, 32)
    with tn.no_grad():
        gpt(np.zeros((1, 1), dtype=np.int64))
    for p in gpt.weights:                       # not the init's values: something to round
        p.data[...] = np.random.default_rng(0).standard_normal(p.data.shape) * 0.3
    return gpt, tok


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_round_trip(small, tmp_path, dtype):
    gpt, tok = small
    save_pretrained(gpt, tok, tmp_path, dtype=dtype, info={"note": "test"})
    back = load_pretrained(tmp_path)
    assert type(back) is tn.models.GPT and back.get_config() == gpt.get_config()
    for p, q in zip(gpt.weights, back.weights):
        assert q.data.dtype == np.float32
        np.testing.assert_array_equal(q.data, p.data.astype(dtype).astype(np.float32))
    assert back.tokenizer == tok and back.pretrained_info == {"note": "test"}
    ids = np.array([tok.encode("the cat sat")])
    with tn.no_grad():
        a, b = gpt(ids).data, back(ids).data
    tol = 2e-2 if dtype == "float16" else 1e-6
    np.testing.assert_allclose(b, a, rtol=tol, atol=tol)


def test_bad_folders_and_arguments(small, tmp_path):
    gpt, tok = small
    with pytest.raises(FileNotFoundError, match="not a pretrained model folder"):
        load_pretrained(tmp_path)
    with pytest.raises(ValueError, match="dtype must be one of"):
        save_pretrained(gpt, tok, tmp_path, dtype="int4")
    with pytest.raises(ValueError, match="the tokenizer has 257 ids"):
        save_pretrained(gpt, BPETokenizer(), tmp_path)          # 256 bytes + <|endoftext|>
    save_pretrained(gpt, tok, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["weights"][0]["shape"] = [1, 2]
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="weight 0 .* has shape"):
        load_pretrained(tmp_path)


def test_a_config_asking_for_more_than_the_file_holds_is_refused(small, tmp_path):
    """The architecture is built under the weight guard: a config.json asking for a
    20-million-row embedding fails before allocating it, naming the file."""
    gpt, tok = small
    save_pretrained(gpt, tok, tmp_path)
    path = tmp_path / "config.json"
    good = path.read_text()
    config = json.loads(good)
    config["architecture"]["config"]["vocab_size"] = 20_000_000
    path.write_text(json.dumps(config))
    with pytest.raises(PretrainedFormatError, match=r"weights.npz: .*asks for weight"):
        load_pretrained(tmp_path)
    config = json.loads(good)
    config["architecture"]["config"]["activation"] = "no-such-activation"
    path.write_text(json.dumps(config))
    with pytest.raises(PretrainedFormatError, match="config.json: cannot build the arch"):
        load_pretrained(tmp_path)
    path.write_text("[1, 2]")
    with pytest.raises(PretrainedFormatError, match="config.json: expected a JSON object"):
        load_pretrained(tmp_path)
