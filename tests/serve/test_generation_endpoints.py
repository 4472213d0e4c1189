"""A real language-model server over HTTP, with httpx and the official ``openai``
client: completions and chat equal ``language_model.generate`` for the same prompt
and seed, streamed or not; stop strings, usage counts, bad requests, a client that
leaves mid-stream, a request over its time limit, /health answering meanwhile."""

import concurrent.futures as cf
import json
import threading
import time

import pytest

httpx = pytest.importorskip("httpx")
openai = pytest.importorskip("openai")


@pytest.fixture(scope="module")
def lm_server(serve):
    return serve("lm", "--max-tokens-limit", "200000", "--timeout", "4")


@pytest.fixture(scope="module")
def client(lm_server):
    return openai.OpenAI(base_url=lm_server.url + "/v1", api_key="unused", max_retries=0,
                         timeout=30.0)


def generated(models, prompt, length, seed, temperature=1.0, top_k=None):
    """What ``generate`` writes after ``prompt``."""
    from tinynlp.tasks import language_model as lm

    text = lm.generate(prompt, folder=models("lm"), length=length, temperature=temperature,
                       top_k=top_k, seed=seed)
    assert text.startswith(prompt)
    return text[len(prompt):]


def post(server, path, body):
    return httpx.post(server.url + path, json=body, timeout=30.0)


def sse_events(lines):
    """The JSON events of an SSE stream, and whether it ended with [DONE]."""
    events, done = [], False
    for line in lines:
        if not line.startswith("data: "):
            assert line == "", line
            continue
        payload = line[len("data: "):]
        assert not done, "an event after [DONE]"
        if payload == "[DONE]":
            done = True
        else:
            events.append(json.loads(payload))
    return events, done


# ------------------------------------------------------------------- completions
def test_completion_equals_generate(lm_server, models):
    r = post(lm_server, "/v1/completions", {"model": "lm", "prompt": "ROMEO:", "max_tokens": 40,
                                            "temperature": 0.8, "top_k": 5, "seed": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "text_completion" and body["model"] == "lm"
    assert body["id"].startswith("cmpl-")
    (choice,) = body["choices"]
    assert choice["text"] == generated(models, "ROMEO:", 40, 3, 0.8, 5)
    assert choice["finish_reason"] == "length" and choice["index"] == 0
    assert body["usage"] == {"prompt_tokens": 6, "completion_tokens": 40, "total_tokens": 46}


def test_several_prompts_empty_prompt_and_greedy(lm_server, models):
    prompts = ["KING:", "", "To be or not"]
    r = post(lm_server, "/v1/completions", {"model": "lm", "prompt": prompts, "max_tokens": 25,
                                            "seed": 11})
    choices = r.json()["choices"]
    assert [c["index"] for c in choices] == [0, 1, 2]
    assert [c["text"] for c in choices] == [generated(models, p, 25, 11) for p in prompts]
    greedy = post(lm_server, "/v1/completions", {"model": "lm", "prompt": "KING:",
                                                 "max_tokens": 20, "temperature": 0})
    assert greedy.json()["choices"][0]["text"] == generated(models, "KING:", 20, 0, 1.0, 1)


def test_concurrent_generations_step_together_and_match(lm_server, models):
    before = lm_server.health()
    jobs = [("ROMEO:", 30 + 5 * i, i) for i in range(8)]

    def one(job):
        prompt, n, seed = job
        return post(lm_server, "/v1/completions", {"model": "lm", "prompt": prompt,
                                                   "max_tokens": n, "seed": seed,
                                                   "temperature": 0.9})
    with cf.ThreadPoolExecutor(8) as pool:
        rs = list(pool.map(one, jobs))
    for (prompt, n, seed), r in zip(jobs, rs):
        assert r.json()["choices"][0]["text"] == generated(models, prompt, n, seed, 0.9)
    after = lm_server.health()
    steps = after["batches"] - before["batches"]
    tokens = after["tokens"] - before["tokens"]
    assert tokens == sum(n for _, n, _ in jobs)
    assert steps < tokens, "the rows never stepped together"


def test_stop_strings(lm_server, models):
    full = generated(models, "ROMEO:", 60, 5)
    stop = [full[10:12], full[30:33]]           # strings the text is known to contain
    cut = min(full.find(s) for s in stop)
    r = post(lm_server, "/v1/completions", {"model": "lm", "prompt": "ROMEO:", "max_tokens": 60,
                                            "seed": 5, "stop": stop}).json()
    assert r["choices"][0]["text"] == full[:cut]
    assert r["choices"][0]["finish_reason"] == "stop"
    assert r["usage"]["completion_tokens"] <= 60


def test_streaming_completion_equals_the_whole_text(lm_server, models):
    body = {"model": "lm", "prompt": ["ROMEO:", "JULIET:"], "max_tokens": 30, "seed": 2,
            "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", lm_server.url + "/v1/completions", json=body, timeout=30) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events, done = sse_events(r.iter_lines())
    assert done
    texts, reasons = ["", ""], [None, None]
    for ev in events[:-1]:
        assert ev["object"] == "text_completion" and ev["usage"] is None
        (c,) = ev["choices"]
        texts[c["index"]] += c["text"]
        if c["finish_reason"]:
            reasons[c["index"]] = c["finish_reason"]
    assert texts == [generated(models, p, 30, 2) for p in ("ROMEO:", "JULIET:")]
    assert reasons == ["length", "length"]
    assert events[-1]["choices"] == []
    assert events[-1]["usage"] == {"prompt_tokens": 13, "completion_tokens": 60,
                                   "total_tokens": 73}


# ------------------------------------------------------------------- the openai client
def test_openai_client_completions_and_stream(client, models):
    out = client.completions.create(model="lm", prompt="ROMEO:", max_tokens=30, seed=7,
                                    temperature=0.8)
    expected = generated(models, "ROMEO:", 30, 7, 0.8)
    assert out.choices[0].text == expected
    assert out.usage.completion_tokens == 30 and out.usage.prompt_tokens == 6
    stream = client.completions.create(model="lm", prompt="ROMEO:", max_tokens=30, seed=7,
                                       temperature=0.8, stream=True)
    assert "".join(c.choices[0].text for c in stream if c.choices) == expected
    models_list = client.models.list()
    assert [m.id for m in models_list.data] == ["lm"]


def test_openai_client_chat(client, models, lm_server):
    from tinynlp.serve.rnn_lm import RNNLanguageModelAdapter

    messages = [{"role": "system", "content": "You speak in verse."},
                {"role": "user", "content": "What light through yonder window breaks?"}]
    prompt, end_of_turn = RNNLanguageModelAdapter(models("lm")).chat_prompt(messages)
    assert prompt.endswith("ASSISTANT:\n") and end_of_turn == ("\n\n",)
    full = generated(models, prompt, 50, 4)
    cut = full.find("\n\n")
    expected = (full if cut < 0 else full[:cut]).lstrip()
    out = client.chat.completions.create(model="lm", messages=messages, max_tokens=50, seed=4)
    assert out.object == "chat.completion" and out.id.startswith("chatcmpl-")
    assert out.choices[0].message.role == "assistant"
    assert out.choices[0].message.content == expected
    assert out.choices[0].finish_reason == ("length" if cut < 0 else "stop")
    assert out.usage.prompt_tokens == len(prompt)
    chunks = list(client.chat.completions.create(model="lm", messages=messages, max_tokens=50,
                                                 seed=4, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == expected
    assert chunks[-1].choices[0].finish_reason == out.choices[0].finish_reason
    # max_completion_tokens is the newer name of max_tokens
    again = client.chat.completions.create(model="lm", messages=messages,
                                           max_completion_tokens=50, seed=4)
    assert again.choices[0].message.content == expected


def test_openai_client_errors(client):
    with pytest.raises(openai.NotFoundError, match="not found"):
        client.completions.create(model="gpt-4", prompt="hi")
    with pytest.raises(openai.UnprocessableEntityError, match="max_tokens"):
        client.completions.create(model="lm", prompt="hi", max_tokens=10**6)
    with pytest.raises(openai.UnprocessableEntityError, match="not supported"):
        client.completions.create(model="lm", prompt="hi", n=2)
    with pytest.raises(openai.UnprocessableEntityError, match="messages"):
        client.chat.completions.create(model="lm", messages=[])


@pytest.mark.parametrize("path, body, status, needle", [
    ("/v1/completions", {"prompt": "x"}, 422, "model: required"),
    ("/v1/completions", {"model": "lm"}, 422, "prompt: required"),
    ("/v1/completions", {"model": "lm", "prompt": []}, 422, "empty array"),
    ("/v1/completions", {"model": "lm", "prompt": [1, 2]}, 422, "token-id prompts"),
    ("/v1/completions", {"model": "lm", "prompt": "x", "max_tokens": 0}, 422, "max_tokens"),
    ("/v1/completions", {"model": "lm", "prompt": "x", "max_tokens": "5"}, 422,
     "expected an integer"),
    ("/v1/completions", {"model": "lm", "prompt": "x", "max_tokens": 2.5}, 422,
     "expected an integer"),
    ("/v1/completions", {"model": "lm", "prompt": "x", "temperature": "hot"}, 422,
     "expected a number"),
    ("/v1/completions", {"model": "lm", "prompt": "x", "temperature": 3}, 422, "[0.0, 2.0]"),
    ("/v1/completions", {"model": "lm", "prompt": "x", "top_p": 0}, 422, "top_p"),
    ("/v1/completions", {"model": "lm", "prompt": "x", "seed": -1}, 422, "seed"),
    ("/v1/completions", {"model": "lm", "prompt": "x", "stop": ["a"] * 5}, 422, "at most 4"),
    ("/v1/completions", {"model": "lm", "prompt": "x", "stream": "yes"}, 422, "true or false"),
    ("/v1/completions", {"model": "lm", "prompt": "x", "stream_options": {"include_usage": True}},
     422, "only allowed with stream"),
    ("/v1/completions", {"model": "lm", "prompt": "x", "echo": True}, 422, "not supported"),
    ("/v1/completions", {"model": "lm", "prompt": "x", "mood": "happy"}, 422,
     "unknown field 'mood'"),
    ("/v1/completions", {"model": "other", "prompt": "x"}, 404, "not found"),
    ("/v1/chat/completions", {"model": "lm", "messages": [{"role": "robot", "content": "x"}]},
     422, "role"),
    ("/v1/chat/completions", {"model": "lm", "messages": [{"role": "user", "content": 5}]},
     422, "content"),
    ("/v1/chat/completions", {"model": "lm", "messages": [{"role": "user", "content": " "}]},
     422, "empty"),
    ("/v1/chat/completions", {"model": "lm", "messages": "hello"}, 422, "messages"),
    ("/v1/classify", {"input": "x"}, 404, "/v1/completions"),
])
def test_bad_generation_requests(lm_server, path, body, status, needle):
    r = post(lm_server, path, body)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]["message"]


def test_accepted_neutral_openai_fields(lm_server):
    r = post(lm_server, "/v1/completions", {"model": "lm", "prompt": "x", "max_tokens": 3, "n": 1,
                                            "user": "me", "presence_penalty": 0, "echo": False,
                                            "logprobs": None})
    assert r.status_code == 200, r.text


# ------------------------------------------------------------------- robustness
def wait_for(predicate, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_client_leaving_mid_stream_frees_its_row(lm_server):
    before = lm_server.health()
    body = {"model": "lm", "prompt": "ROMEO:", "max_tokens": 200000, "stream": True}
    with httpx.stream("POST", lm_server.url + "/v1/completions", json=body, timeout=30) as r:
        lines = r.iter_lines()
        got = [line for _, line in zip(range(10), lines) if line.startswith("data: ")]
        assert len(got) >= 3
        assert lm_server.health()["running"] == 1
    # the connection is closed: the row leaves the batch long before 200,000 tokens
    wait_for(lambda: lm_server.health()["running"] == 0, "the row to be dropped")
    after = lm_server.health()
    assert after["cancelled"] == before["cancelled"] + 1
    assert after["tokens"] - before["tokens"] < 200000
    assert post(lm_server, "/v1/completions", {"model": "lm", "prompt": "x",
                                               "max_tokens": 2}).status_code == 200


def test_health_answers_while_the_model_works_and_timeouts_give_504(lm_server):
    before = lm_server.health()
    result = {}

    def long_request():   # 200,000 steps: far over the server's 4 s limit
        result["r"] = post(lm_server, "/v1/completions", {"model": "lm", "prompt": "ROMEO:",
                                                          "max_tokens": 200000})
    t = threading.Thread(target=long_request)
    t.start()
    wait_for(lambda: lm_server.health()["running"] == 1, "the long request to start")
    answers = [httpx.get(lm_server.url + "/health", timeout=10.0) for _ in range(5)]
    assert all(a.status_code == 200 for a in answers)
    assert "r" not in result, "the long request ended before /health was asked"
    t.join(60)
    r = result["r"]
    assert r.status_code == 504 and r.json()["error"]["type"] == "timeout_error"
    wait_for(lambda: lm_server.health()["running"] == 0, "the timed-out row to be dropped")
    assert lm_server.health()["cancelled"] == before["cancelled"] + 1
