"""SIGTERM with requests in flight: the server stops accepting connections, finishes
every request it had (streams included) and exits with status 0."""

import json
import signal
import threading
import time

import pytest

httpx = pytest.importorskip("httpx")


@pytest.mark.slow
def test_sigterm_finishes_the_requests_in_flight(serve, models):
    from tinynlp.tasks import language_model as lm

    server = serve("lm", "--max-tokens-limit", "100000")
    n_tokens = 3000
    results = {"stream": []}

    def complete(i):
        results[i] = httpx.post(server.url + "/v1/completions", timeout=120.0, json={
            "model": "lm", "prompt": f"ROMEO {i}:", "max_tokens": n_tokens, "seed": i})

    def stream():
        body = {"model": "lm", "prompt": "JULIET:", "max_tokens": n_tokens, "seed": 9,
                "stream": True}
        with httpx.stream("POST", server.url + "/v1/completions", json=body,
                          timeout=120.0) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    results["stream"].append(line)

    threads = [threading.Thread(target=complete, args=(i,)) for i in range(3)]
    threads.append(threading.Thread(target=stream))
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while server.health()["running"] < 4:
        assert time.monotonic() < deadline, "the requests never ran together"
        time.sleep(0.02)
    server.proc.send_signal(signal.SIGTERM)
    streamed_at_sigterm = len(results["stream"])
    time.sleep(0.3)
    with pytest.raises(httpx.TransportError):   # no new connections once shutting down
        httpx.get(server.url + "/health", timeout=5.0)
    for t in threads:
        t.join(120)
    assert server.proc.wait(60) == 0, server.output()
    for i in range(3):
        r = results[i]
        assert r.status_code == 200, r.text
        choice = r.json()["choices"][0]
        assert choice["finish_reason"] == "length"
        assert r.json()["usage"]["completion_tokens"] == n_tokens
    expected = lm.generate("ROMEO 0:", folder=models("lm"), length=n_tokens, temperature=1.0,
                           seed=0)[len("ROMEO 0:"):]
    assert results[0].json()["choices"][0]["text"] == expected
    lines = results["stream"]
    assert lines[-1] == "data: [DONE]"
    assert streamed_at_sigterm < len(lines) - 100, "the stream was not in flight at SIGTERM"
    finish = [json.loads(x[6:])["choices"][0]["finish_reason"] for x in lines[:-1]]
    assert finish[-1] == "length" and finish.count("length") == 1
