"""Serving a GPT: the adapter over a BPE tokenizer (no HTTP: the scheduler writes what
``GPT.generate`` writes, UTF-8 held back across tokens, end-of-text), and a real
server process for the character GPT of ``tinynlp train lm --model gpt``
(completions, several prompts, greedy, a context longer than the model's, streaming,
chat) equal to ``language_model.generate`` for the same prompt and seed."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinynlp as tn
from tinynlp.serve import load_adapter
from tinynlp.serve.generation import GenerationRow, SamplingParams
from tinynlp.serve.gpt import BPECodec, GPTAdapter, GPTSession, Utf8Decoder
from tinynlp.serve.scheduler import GenerationScheduler

from .scheduling import collect

TEXTS = ["the cat sat on the mat. ", "a dog ate the hat! ", "naïve café — über 😀 ", "the end"]


@pytest.fixture(scope="module")
def bpe():
    tok = tn.text.BPETokenizer.train(TEXTS * 20, vocab_size=290)
    tn.random.seed(0)
    model = tn.models.GPT(tok.vocab_size, 12, 1, 2, 16, 32)
    return tok, model


def run_rows(adapter, prompts, params, max_batch=8):
    """Every prompt's (text, finish reason), through the scheduler as one request."""
    s = GenerationScheduler(adapter, max_batch=max_batch, max_wait=0.0)
    s.start()
    try:
        _, done, texts, reasons = collect(s, adapter, prompts, params)
        assert done.wait(60)
    finally:
        s.stop()
    return texts, reasons


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 289), max_size=12))
def test_utf8_decoder_streams_what_decode_writes(bpe, ids):
    tok, _ = bpe
    d = Utf8Decoder(tok.id_to_bytes)
    assert "".join(d.push(i) for i in ids) + d.flush() == tok.decode(ids)


def test_bpe_rows_write_what_generate_writes(bpe):
    tok, model = bpe
    adapter = GPTAdapter(model, BPECodec(tok))
    assert adapter.eos_id == tok.eos_id and adapter.max_context is None
    assert adapter.encode("") == [tok.eos_id] and adapter.encode("😀")
    prompts = ["the cat", "über", ""]
    params = SamplingParams(max_tokens=20, seed=4, temperature=0.9)   # 12 + 20 > context: cropped
    texts, reasons = run_rows(adapter, prompts, params)
    for p, text, reason in zip(prompts, texts, reasons):
        ids = adapter.encode(p)
        out = [int(t) for t in model.generate(ids, 20, temperature=0.9, seed=4,
                                              eos_token_id=tok.eos_id)[len(ids):]]
        if tok.eos_id in out:
            out = out[:out.index(tok.eos_id)]
            assert reason == "stop"
        else:
            assert reason == "length"
        assert text == tok.decode(out)
    greedy, _ = run_rows(adapter, ["the cat"], SamplingParams(max_tokens=6, temperature=0))
    ids = adapter.encode("the cat")
    assert greedy[0] == tok.decode(
        [t for t in model.generate(ids, 6, top_k=1)[len(ids):].tolist()])


def test_a_row_ends_at_the_end_of_text_token(bpe):
    tok, model = bpe
    codec = BPECodec(tok)
    ids = codec.encode("a dog")
    greedy = model.generate(ids, 8, top_k=1)[len(ids):].tolist()
    codec.eos_id = greedy[3]                      # greedy decoding reaches it at step 4
    adapter = GPTAdapter(model, codec)
    texts, reasons = run_rows(adapter, ["a dog", "a dog"], SamplingParams(max_tokens=8,
                                                                          temperature=0))
    first = greedy.index(greedy[3])
    assert reasons == ["stop", "stop"]
    assert texts == [tok.decode(greedy[:first])] * 2


def test_the_session_forgets_rows_and_tolerates_an_early_end(bpe):
    tok, model = bpe
    adapter = GPTAdapter(model, BPECodec(tok))
    assert adapter.session_key(SamplingParams(temperature=0.5, top_k=3)) == (0.5, 3, 1.0)
    s = GPTSession(adapter)
    s.add({7: GenerationRow([5, 6], SamplingParams(max_tokens=3, seed=1)),
           9: GenerationRow([8], SamplingParams(max_tokens=3))})     # unseeded: a fresh seed
    assert set(s.step()) == {7, 9}
    s.remove([9])
    assert set(s.step()) == {7}
    with pytest.raises(RuntimeError, match="cannot take new rows"):
        s.add({1: GenerationRow([5], SamplingParams())})
    s.step()
    assert s.step() == {7: tok.eos_id}            # the stream ended: the row is told to stop
    s.remove([7])
    assert s.stream.gi_frame is None              # closed once no row is left
    with pytest.raises(TypeError, match="must be a tinynlp.models.GPT"):
        GPTAdapter(object(), BPECodec(tok))


# ------------------------------------------------------------------ the char GPT over HTTP
httpx = pytest.importorskip("httpx")


@pytest.fixture(scope="module")
def gpt_server(serve):
    return serve("gpt", "--timeout", "30")


def generated(models, prompt, length, seed, temperature=1.0, top_k=None):
    from tinynlp.tasks import language_model as lm

    text = lm.generate(prompt, folder=models("gpt"), length=length, temperature=temperature,
                       top_k=top_k, seed=seed)
    assert text.startswith(prompt)
    return text[len(prompt):]


def post(server, path, body):
    return httpx.post(server.url + path, json=body, timeout=60.0)


def test_the_folder_gets_the_gpt_adapter(models):
    adapter = load_adapter(models("gpt"))
    assert isinstance(adapter, GPTAdapter) and not adapter.can_join
    assert "GPT" in adapter.description


def test_completions_equal_generate(gpt_server, models):
    r = post(gpt_server, "/v1/completions", {"model": "gpt", "prompt": "ROMEO:",
                                             "max_tokens": 45, "temperature": 0.8, "top_k": 5,
                                             "seed": 3})
    assert r.status_code == 200, r.text
    (choice,) = r.json()["choices"]
    assert choice["text"] == generated(models, "ROMEO:", 45, 3, 0.8, 5)   # 6 + 45 > 20: cropped
    assert r.json()["usage"]["completion_tokens"] == 45
    prompts = ["KING:", "", "To be or not"]
    r = post(gpt_server, "/v1/completions", {"model": "gpt", "prompt": prompts,
                                             "max_tokens": 15, "seed": 11})
    assert [c["text"] for c in r.json()["choices"]] == [generated(models, p, 15, 11)
                                                        for p in prompts]
    greedy = post(gpt_server, "/v1/completions", {"model": "gpt", "prompt": "KING:",
                                                  "max_tokens": 10, "temperature": 0})
    assert greedy.json()["choices"][0]["text"] == generated(models, "KING:", 10, 0, 0.0)


def test_streaming_equals_the_whole_text_and_chat_answers(gpt_server, models):
    body = {"model": "gpt", "prompt": ["ROMEO:", "JULIET:"], "max_tokens": 25, "seed": 2,
            "stream": True}
    texts = ["", ""]
    with httpx.stream("POST", gpt_server.url + "/v1/completions", json=body, timeout=60) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                for c in json.loads(line[6:])["choices"]:
                    texts[c["index"]] += c["text"]
    assert texts == [generated(models, p, 25, 2) for p in ("ROMEO:", "JULIET:")]
    chat = post(gpt_server, "/v1/chat/completions", {
        "model": "gpt", "max_tokens": 12, "seed": 1,
        "messages": [{"role": "user", "content": "What news?"}]})
    assert chat.status_code == 200, chat.text
    answer = chat.json()["choices"][0]["message"]["content"]
    full = generated(models, "USER:\nWhat news?\n\nASSISTANT:\n", 12, 1)
    assert answer == full.split("\n\n")[0]


def test_the_openai_client_completes_streams_and_chats_with_the_gpt(gpt_server, models):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=gpt_server.url + "/v1", api_key="unused", max_retries=0,
                           timeout=60.0)
    out = client.completions.create(model="gpt", prompt="ROMEO:", max_tokens=20, seed=7,
                                    temperature=0.8, extra_body={"top_k": 5})
    expected = generated(models, "ROMEO:", 20, 7, 0.8, 5)
    assert out.choices[0].text == expected
    assert out.usage.completion_tokens == 20 and out.usage.prompt_tokens == 6
    stream = client.completions.create(model="gpt", prompt="ROMEO:", max_tokens=20, seed=7,
                                       temperature=0.8, extra_body={"top_k": 5}, stream=True)
    assert "".join(c.choices[0].text for c in stream if c.choices) == expected
    chat = client.chat.completions.create(
        model="gpt", max_tokens=12, seed=1, messages=[{"role": "user", "content": "What news?"}])
    full = generated(models, "USER:\nWhat news?\n\nASSISTANT:\n", 12, 1)
    assert chat.choices[0].message.content == full.split("\n\n")[0]
    assert [m.id for m in client.models.list().data] == ["gpt"]
