"""A real server per task (sentiment, genres, tagging, translation) over HTTP: the
answers equal the task's own ``predict`` / ``tag`` / ``translate``; every bad input
gets its status and a message; concurrent requests share forward passes."""

import concurrent.futures as cf
import json

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")

TEXTS = ["a gorgeous, witty, seductive movie.",
         "the plot is nothing but boilerplate clichés from start to finish.",
         "an utterly charming and hilarious film that reaffirms your faith in humanity.",
         "dull", "it is what it is"]


@pytest.fixture(scope="module")
def sentiment_server(serve):
    return serve("sentiment", "--max-body-bytes", "4096", "--max-input-chars", "500",
                 "--max-wait-ms", "20")


def post(server, path, body, **kw):
    return httpx.post(server.url + path, json=body, timeout=30.0, **kw)


def error_of(r, status):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["message"] and err["type"] and err["code"] == status
    return err


# ---------------------------------------------------------------- sentiment
def test_health_and_models(sentiment_server):
    h = sentiment_server.health()
    assert h["status"] == "ok" and h["model"] == "sentiment" and h["kind"] == "classifier"
    m = httpx.get(sentiment_server.url + "/v1/models").json()
    assert m["object"] == "list" and [d["id"] for d in m["data"]] == ["sentiment"]
    card = m["data"][0]
    assert card["object"] == "model" and card["endpoints"] == ["/v1/classify"]
    assert httpx.get(sentiment_server.url + "/v1/models/sentiment").json() == card
    error_of(httpx.get(sentiment_server.url + "/v1/models/nope"), 404)


def test_classify_equals_predict(sentiment_server, models):
    from tinynlp.tasks import sentiment

    p_fresh = sentiment.predict(TEXTS, models("sentiment"))
    r = post(sentiment_server, "/v1/classify", {"input": TEXTS, "model": "sentiment"})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert [d["index"] for d in data] == list(range(len(TEXTS)))
    got = np.array([d["probabilities"]["fresh"] for d in data])
    np.testing.assert_allclose(got, p_fresh, rtol=0, atol=1e-6)
    np.testing.assert_allclose([d["probabilities"]["rotten"] for d in data], 1 - got, atol=1e-12)
    assert [d["label"] for d in data] == ["fresh" if p >= 0.5 else "rotten" for p in got]
    one = post(sentiment_server, "/v1/classify", {"input": TEXTS[0]}).json()["data"]
    assert len(one) == 1
    assert one[0]["probabilities"]["fresh"] == pytest.approx(p_fresh[0], abs=1e-6)


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(sentiment_server,
                                                                         models):
    from tinynlp.tasks import sentiment

    texts = [f"{TEXTS[i % len(TEXTS)]} {'very ' * (i % 7)}" for i in range(48)]
    expected = sentiment.predict(texts, models("sentiment"))
    before = sentiment_server.health()
    with httpx.Client(base_url=sentiment_server.url, timeout=30.0,
                      limits=httpx.Limits(max_connections=48)) as client:
        with cf.ThreadPoolExecutor(16) as pool:
            rs = list(pool.map(lambda t: client.post("/v1/classify", json={"input": t}), texts))
    got = [r.json()["data"][0]["probabilities"]["fresh"] for r in rs]
    np.testing.assert_allclose(got, expected, atol=1e-6)
    after = sentiment_server.health()
    served = after["served"] - before["served"]
    batches = after["batches"] - before["batches"]
    assert served == 48 and after["failed"] == before["failed"]
    assert batches < served, "concurrent requests never shared a forward pass"


@pytest.mark.parametrize("body, status, needle", [
    ({"input": ""}, 422, "empty input"),
    ({"input": "   "}, 422, "empty input"),
    ({"input": []}, 422, "empty array"),
    ({"input": ["ok", ""]}, 422, "input[1]"),
    ({"input": 3}, 422, "expected a string or an array of strings"),
    ({"input": ["ok", 3]}, 422, "input[1]: expected a string"),
    ({}, 422, "input: required"),
    ({"input": "ok", "temperature": 1}, 422, "unknown field 'temperature'"),
    ({"input": "ok", "model": "gpt-4"}, 404, "'gpt-4' not found"),
    ({"input": "ok", "model": 7}, 422, "model: expected a string"),
    ({"input": "x" * 501}, 422, "over the limit of 500"),
    ([1, 2], 422, "must be a JSON object"),
])
def test_bad_classify_requests(sentiment_server, body, status, needle):
    err = error_of(post(sentiment_server, "/v1/classify", body), status)
    assert needle in err["message"]


def test_malformed_json_wrong_route_method_and_size(sentiment_server):
    url = sentiment_server.url
    err = error_of(httpx.post(url + "/v1/classify", content=b'{"input": "x"', timeout=10), 400)
    assert "not valid JSON" in err["message"]
    error_of(httpx.post(url + "/v1/classify", content=b"\xff\xfe", timeout=10), 400)
    err = error_of(httpx.post(url + "/v1/completions", json={"model": "sentiment",
                                                             "prompt": "x"}), 404)
    assert "/v1/classify" in err["message"]
    error_of(httpx.get(url + "/v1/classify"), 405)
    big = json.dumps({"input": "a " * 5000}).encode()
    err = error_of(httpx.post(url + "/v1/classify", content=big, timeout=10), 413)
    assert "4096 bytes" in err["message"]

    def chunked(pieces):       # no Content-Length: the limit holds while reading
        def gen():
            for _ in range(pieces):
                yield b" " * (10_000 // pieces)
            yield b'{"input": "x"}'
        return gen()
    for pieces in (1, 10):     # the whole body in the first read, or over many
        error_of(httpx.post(url + "/v1/classify", content=chunked(pieces), timeout=10), 413)
    # the server is still fine
    assert post(sentiment_server, "/v1/classify", {"input": "fine"}).status_code == 200
    assert sentiment_server.health()["failed"] == 0


# ---------------------------------------------------------------- other tasks
def test_genre_classifier_equals_predict(serve, models):
    from tinynlp.tasks import classification

    server = serve("classify")
    texts = ["the jury said the election was conducted fairly", "she kissed him by the river",
             "the reaction of the acid with the metal was measured"]
    expected = classification.predict(texts, models("classify"))
    model, encode, meta = classification.load(models("classify"))
    probs = model.predict(encode(texts))
    data = post(server, "/v1/classify", {"input": texts}).json()["data"]
    assert [d["label"] for d in data] == expected
    for d, p in zip(data, probs):
        assert list(d["probabilities"]) == meta["classes"]
        np.testing.assert_allclose(list(d["probabilities"].values()), p, atol=1e-6)


def test_tagger_equals_tag(serve, models):
    from tinynlp.tasks import tagging

    server = serve("tagging")
    sentences = ["The jury said it did find that", "He ran home .",
                 "A very long sentence with many words that the tagger has to read both ways"]
    expected = tagging.tag([s.split() for s in sentences], models("tagging"))
    data = post(server, "/v1/tag", {"input": sentences}).json()["data"]
    assert [d["tags"] for d in data] == expected
    assert [d["tokens"] for d in data] == [s.split() for s in sentences]
    assert all(0 < s <= 1 for d in data for s in d["scores"])
    tokens = post(server, "/v1/tag", {"input": [["He", "ran"]]}).json()["data"][0]
    assert tokens["tags"] == tagging.tag([["He", "ran"]], models("tagging"))[0]
    error_of(post(server, "/v1/tag", {"input": [["He", ""]]}), 422)
    error_of(post(server, "/v1/tag", {"input": [[]]}), 422)
    error_of(post(server, "/v1/classify", {"input": "x"}), 404)


def test_translator_equals_translate(serve, models):
    from tinynlp.tasks import translation

    server = serve("translate")
    texts = ["en el principio creó dios los cielos y la tierra", "y dijo dios",
             "la luz es buena"]
    for beam in (1, 3):
        expected = translation.translate(texts, models("translate"), beam_size=beam)
        r = post(server, "/v1/translate", {"input": texts, "beam_size": beam})
        assert [d["translation"] for d in r.json()["data"]] == expected
    default = post(server, "/v1/translate", {"input": texts[1]}).json()["data"][0]
    assert default["translation"] == translation.translate(texts[1], models("translate"))[0]
    error_of(post(server, "/v1/translate", {"input": "hola", "beam_size": 0}), 422)
    error_of(post(server, "/v1/translate", {"input": "hola", "beam_size": "2"}), 422)
