"""The server's parts without HTTP: stop strings, the nucleus, the word detokenizer,
the micro-batcher and the generation scheduler (rows joining a running batch write
what ``generate`` writes), adapters for every task folder."""

import asyncio
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinynlp.serve import Limits, load_adapter
from tinynlp.serve.batcher import MicroBatcher
from tinynlp.serve.generation import SamplingParams, StopMatcher, nucleus_mask
from tinynlp.serve.rnn_lm import WordDecoder
from tinynlp.serve.scheduler import GenerationScheduler

from .scheduling import collect


# ------------------------------------------------------------------ stop strings
def feed_all(stop, pieces):
    m, out = StopMatcher(stop), ""
    for p in pieces:
        safe, hit = m.feed(p)
        out += safe
        if hit:
            return out, True
    return out + m.flush(), False


def test_stop_matcher_by_hand():
    assert feed_all(["\n\n"], ["ab", "\n", "c"]) == ("ab\nc", False)
    assert feed_all(["\n\n"], ["ab", "\n", "\nc"]) == ("ab", True)
    assert feed_all(["END"], list("xxENxEND yy")) == ("xxENx", True)
    assert feed_all(["abc", "b"], ["xab"]) == ("xa", True)          # the earliest match wins
    assert feed_all([], ["a", "b"]) == ("ab", False)
    m = StopMatcher(["abc"])
    assert m.feed("xxab") == ("xx", False) and m.held == "ab"      # may become "abc"


@given(st.lists(st.text(alphabet="ab\n", min_size=0, max_size=4), max_size=12),
       st.lists(st.text(alphabet="ab\n", min_size=1, max_size=3), min_size=1, max_size=3))
def test_stop_matcher_cuts_when_a_stop_string_first_appears(pieces, stop):
    """Generation stops at the first piece after which the text holds a stop string;
    the text is cut where the earliest of them starts."""
    text, expected = "", None
    for p in pieces:
        text += p
        cuts = [text.find(s) for s in stop if s in text]
        if cuts:
            expected = (text[:min(cuts)], True)
            break
    assert feed_all(stop, pieces) == (expected or (text, False))


# ------------------------------------------------------------------ nucleus
def test_nucleus_keeps_the_smallest_set_reaching_top_p():
    logits = np.log(np.array([0.1, 0.5, 0.3, 0.1]))
    z = nucleus_mask(logits, 1.0, 0.7)
    assert np.isfinite(z).tolist() == [False, True, True, False]       # 0.5 + 0.3 ≥ 0.7
    assert np.isfinite(nucleus_mask(logits, 1.0, 0.5)).sum() == 1
    assert np.isfinite(nucleus_mask(logits, 1.0, 0.81)).sum() == 3
    np.testing.assert_array_equal(nucleus_mask(logits, 1.0, 1.0), logits)
    # a low temperature sharpens the distribution: the top token alone passes 0.7
    assert np.isfinite(nucleus_mask(logits, 0.2, 0.7)).sum() == 1


# ------------------------------------------------------------------ word detokenizer
def task_format(words, prompt):
    """How ``language_model.generate`` writes words after ``prompt`` (its formula)."""
    text = " ".join("\n" if w == "<eos>" else w for w in words).replace(" \n ", "\n")
    return (prompt + " " if prompt else "") + text.replace(" \n", "\n")


@given(st.lists(st.sampled_from(["<eos>", "a", "bb"]), min_size=1, max_size=12),  # max_tokens >= 1
       st.sampled_from(["", "the", "  "]))
def test_word_decoder_streams_what_generate_writes(words, prompt):
    itos = ["<pad>", "<unk>", "<eos>", "a", "bb"]
    dec = WordDecoder(itos, 2, after_prompt=bool(prompt))
    streamed = "".join(dec.push(itos.index(w)) for w in words)
    assert prompt + streamed == task_format(words, prompt)


# ------------------------------------------------------------------ micro-batcher
class FakeAdapter:
    kind = "classifier"

    def __init__(self):
        self.batches = []

    def batch_key(self, item):
        return None

    def run_batch(self, items):
        self.batches.append(list(items))
        if "boom" in items:
            raise ValueError("bad input")
        return [x.upper() for x in items]


def run_jobs(batcher, jobs, cancel=()):
    """Submit ``jobs`` [(items, key)] at once; their results (or exceptions)."""
    async def main():
        await batcher.start()
        futures = [batcher.submit(items, key) for items, key in jobs]
        for k in cancel:
            futures[k].cancel()
        out = await asyncio.gather(*futures, return_exceptions=True)
        await batcher.stop()
        return out
    return asyncio.run(main())


def test_micro_batcher_gathers_splits_and_isolates_failures(capsys):
    a = FakeAdapter()
    b = MicroBatcher(a, max_batch=8, max_wait=0.5)
    jobs = [(["a", "b"], None), (["c"], None), (["boom"], None), (["d", "e"], None),
            (["f"], "other"), (["g"], None)]
    out = run_jobs(b, jobs)
    assert out[0] == ["A", "B"] and out[1] == ["C"] and out[3] == ["D", "E"]
    assert out[4] == ["F"] and out[5] == ["G"]
    assert isinstance(out[2], RuntimeError) and "failed" in str(out[2])
    # one forward for the jobs with key None (then each alone after the failure); the
    # job with another key never shares a batch
    assert a.batches[0] == ["a", "b", "c", "boom", "d", "e", "g"]
    assert a.batches[1:5] == [["a", "b"], ["c"], ["boom"], ["d", "e"]]
    assert a.batches[-2:] == [["g"], ["f"]]
    assert b.stats.failed == 1 and b.stats.served == 5 and b.stats.queued == 0
    assert "bad input" in capsys.readouterr().err


def test_max_batch_bounds_a_batch_and_1_is_one_request_at_a_time():
    a = FakeAdapter()
    out = run_jobs(MicroBatcher(a, max_batch=1, max_wait=0.5), [([c], None) for c in "abcd"])
    assert out == [["A"], ["B"], ["C"], ["D"]]
    assert a.batches == [["a"], ["b"], ["c"], ["d"]]
    a = FakeAdapter()
    run_jobs(MicroBatcher(a, max_batch=3, max_wait=0.5), [([c], None) for c in "abcdefg"])
    assert a.batches == [["a", "b", "c"], ["d", "e", "f"], ["g"]]
    a = FakeAdapter()       # a request larger than max_batch runs alone, never split
    run_jobs(MicroBatcher(a, max_batch=3, max_wait=0.5), [(list("wxyz"), None), (["a"], None)])
    assert a.batches == [["w", "x", "y", "z"], ["a"]]


def test_cancelled_requests_are_skipped():
    a = FakeAdapter()
    b = MicroBatcher(a, max_batch=8, max_wait=0.2)
    out = run_jobs(b, [(["a"], None), (["b"], None), (["c"], None)], cancel=[1])
    assert out[0] == ["A"] and out[2] == ["C"] and isinstance(out[1], asyncio.CancelledError)
    assert a.batches == [["a", "c"]] and b.stats.cancelled == 1


def test_a_lone_request_does_not_wait_for_max_wait():
    a = FakeAdapter()
    b = MicroBatcher(a, max_batch=32, max_wait=2.0)    # a 0.4 s idle gap
    async def main():
        await b.start()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        first = await b.submit(["a"])
        waited = loop.time() - t0
        await b.stop()
        return first, waited
    first, waited = asyncio.run(main())
    assert first == ["A"] and waited < 2.0


# ------------------------------------------------------------------ generation scheduler


@pytest.mark.parametrize("name", ["word", "lmrnn"])
def test_rows_joining_a_running_batch_write_what_generate_writes(models, name):
    from tinynlp.tasks import language_model as lm

    folder = models(name)
    adapter = load_adapter(folder)
    s = GenerationScheduler(adapter, max_batch=8, max_wait=0.0)
    s.start()
    try:
        long = collect(s, adapter, ["the king", ""], SamplingParams(max_tokens=120, seed=5))
        time.sleep(0.05)          # the long rows are running when these join
        short = collect(s, adapter, ["she said"], SamplingParams(max_tokens=20, seed=1,
                                                                 temperature=0.7, top_k=4))
        for job, done, _, _ in (long, short):
            assert done.wait(60)
    finally:
        s.stop()
    for prompt, text in zip(["the king", ""], long[2]):
        assert prompt + text == lm.generate(prompt, folder, length=120, temperature=1.0,
                                            seed=5)
    assert "she said" + short[2][0] == lm.generate("she said", folder, length=20,
                                                   temperature=0.7, top_k=4, seed=1)
    assert long[3] == ["length", "length"] and short[3] == ["length"]
    assert s.stats.batches < s.stats.tokens     # rows shared steps


# ------------------------------------------------------------------ adapters
def test_every_task_folder_gets_its_adapter(models, tmp_path):
    from tinynlp.tasks import sentiment

    imb = load_adapter(models("imbalance"))
    assert imb.kind == "classifier" and imb.labels == ["rotten", "fresh"]
    texts = ["a fine film", "terrible, just terrible"]
    model, encode = sentiment.load(models("imbalance"))
    np.testing.assert_allclose([r["probabilities"]["fresh"] for r in imb.run_batch(texts)],
                               model.predict(encode(texts)).reshape(-1), atol=1e-6)
    assert load_adapter(models("lmrnn")).kind == "generator"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_adapter(tmp_path / "nope")
    with pytest.raises(ValueError, match="no model.tnz"):
        load_adapter(tmp_path)


def test_limits_are_checked():
    with pytest.raises(ValueError, match="max_tokens"):
        Limits(max_tokens=0)
    with pytest.raises(ValueError, match="timeout"):
        Limits(timeout=0)


def test_the_serve_command_reports_a_missing_model_folder(tmp_path, capsys):
    from tinynlp.cli import main

    assert main(["serve", "--model", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert "tinynlp serve: error:" in err and "does not exist" in err
    assert main(["serve", "--model", str(tmp_path), "--timeout", "0"]) == 1
    assert "Limits.timeout" in capsys.readouterr().err
