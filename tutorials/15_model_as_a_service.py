# %% [markdown]
# # 15 — The model as a service: `tinynlp serve`
#
# Training a model is half the job; the other half is letting many people
# use it.  The usual way is an HTTP server: clients send JSON, the server
# answers with predictions.  For language models there is even a convention
# that existing tools already speak — the OpenAI-style `/v1/completions`
# and `/v1/chat/completions` API (llama.cpp's server and vLLM implement it
# too), so the official `openai` Python client, pointed at our address,
# works unchanged.
#
# `tinynlp serve --model DIR` serves any folder written by `tinynlp train`
# (it needs the `serve` extra: `pip install "tinynlp[serve]"`).  This
# tutorial starts real servers on this machine, talks to them with `httpx`
# and with the `openai` client, and looks at what makes a server more than
# a loop around `model.predict`:
#
# 1. **micro-batching** — requests that arrive together share one forward
#    pass (a batch of 32 costs far less than 32 batches of 1);
# 2. **streaming** — generated text is sent token by token as
#    server-sent events;
# 3. **reliability** — bad requests get a clear 4xx answer instead of
#    crashing anything, and SIGTERM lets the requests in flight finish.
#
# Set `TINYNLP_QUICK=1` for a quick run on tiny models (the test suite does).

# %%
import asyncio
import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from tinynlp.tasks import language_model, sentiment

QUICK = os.environ.get("TINYNLP_QUICK") == "1"
WORK = Path(tempfile.mkdtemp(prefix="tn-tutorial15-"))

# %% [markdown]
# ## Two models to serve
#
# A sentiment classifier (the Kim CNN on Rotten Tomatoes) and a
# character-level LSTM language model on Shakespeare, trained briefly: the
# point here is serving them, not their accuracy.

# %%
sentiment.train("cnn", epochs=1, out=WORK / "sentiment", verbose=0, plot=False)
language_model.train("lstm", epochs=1, tokens_per_epoch=None if QUICK else 200_000,
                     out=WORK / "shakespeare", verbose=0, plot=False)
print(sorted(p.name for p in (WORK / "sentiment").iterdir()))


# %% [markdown]
# ## Starting a server
#
# On the command line it is one line:
#
# ```bash
# tinynlp serve --model runs/sentiment --port 8000          # --max-batch 32 --max-wait-ms 5
# ```
#
# It binds to 127.0.0.1 (this machine only) unless `--host` says otherwise.
# Here we start it as a child process on a free port and wait until
# `GET /health` answers.

# %%
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder, *flags):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tinynlp", "serve", "--model", str(folder),
                             "--port", str(port), "--log-level", "warning", *flags])
    atexit.register(lambda: proc.poll() is None and proc.kill())   # never left running
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/health").status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


server, URL = start_server(WORK / "sentiment")
print(json.dumps(httpx.get(URL + "/health").json(), indent=1)[:400])
print(httpx.get(URL + "/v1/models").json())

# %% [markdown]
# ## Classifying over HTTP
#
# `POST /v1/classify` takes `{"input": "a text"}` or a list of texts and
# answers with a label and the probability of every label.  With `curl`:
#
# ```bash
# curl -s http://127.0.0.1:8000/v1/classify -H "Content-Type: application/json" \
#      -d '{"input": ["a gorgeous, witty, seductive movie.", "dull and lifeless"]}'
# ```
#
# The answer is exactly what the model gives in Python.

# %%
texts = ["a gorgeous, witty, seductive movie.", "dull and lifeless, a chore to sit through.",
         "the cast is wonderful and the story moves along nicely"]
answer = httpx.post(URL + "/v1/classify", json={"input": texts}).json()
local = sentiment.predict(texts, WORK / "sentiment")
for item, p in zip(answer["data"], local):
    print(f"{item['label']:>6}  P(fresh) = {item['probabilities']['fresh']:.4f}   "
          f"(in Python: {p:.4f})  {texts[item['index']]}")
assert np.allclose([d["probabilities"]["fresh"] for d in answer["data"]], local, atol=1e-6)

# %% [markdown]
# ## Micro-batching
#
# The server runs the model in a worker thread, away from the event loop
# that reads and writes the HTTP connections.  When many requests arrive
# together it does not run them one by one: it gathers them (for at most
# `--max-wait-ms`, or until `--max-batch` inputs wait), pads them into one
# batch, makes **one** forward pass, and hands each request its row.
#
# Send 64 requests at once from 64 concurrent clients and look at the
# server's counters: far fewer forward passes than requests.

# %%
async def many(url, texts):
    async with httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=64)) as c:
        return await asyncio.gather(*[c.post("/v1/classify", json={"input": t}) for t in texts])

before = httpx.get(URL + "/health").json()
replies = asyncio.run(many(URL, [texts[i % 3] + " " * i for i in range(64)]))
after = httpx.get(URL + "/health").json()
print("answers:", {r.status_code for r in replies}, "—",
      after["served"] - before["served"], "requests in",
      after["batches"] - before["batches"], "forward passes")

# %% [markdown]
# `benchmarks/serve_load.py` measures this properly: requests/s and latency
# for 1 to 128 clients, with `--max-batch 32` against `--max-batch 1`
# (one at a time), and the server's memory over 10,000 requests.

# %% [markdown]
# ## Bad requests are answered, not crashed on
#
# Malformed JSON is a 400, an unknown model a 404, a body over the size
# limit a 413, and everything that is valid JSON but not a valid request
# (wrong types, unknown fields, empty input, values over a limit) a 422 —
# each with a message that says what was wrong.

# %%
for body in [b'{"input": "unfinished', json.dumps({"input": ""}).encode(),
             json.dumps({"input": "fine", "model": "gpt-4"}).encode(),
             json.dumps({"input": "fine", "temperature": 0.5}).encode()]:
    r = httpx.post(URL + "/v1/classify", content=body)
    print(r.status_code, r.json()["error"]["message"])
print("still serving:", httpx.get(URL + "/health").json()["status"])

# %% [markdown]
# SIGTERM shuts the server down gracefully: it stops accepting connections,
# lets the requests in flight finish, and exits with status 0.

# %%
server.send_signal(signal.SIGTERM)
print("exit status:", server.wait(60))

# %% [markdown]
# ## A language model behind the OpenAI API
#
# Serve the Shakespeare model and point the official `openai` client at it
# (`api_key` must be given but is not checked).  The same seed gives the same
# text as `language_model.generate` in Python.

# %%
import openai

server, URL = start_server(WORK / "shakespeare", "--name", "shakespeare")
client = openai.OpenAI(base_url=URL + "/v1", api_key="unused")

out = client.completions.create(model="shakespeare", prompt="ROMEO:", max_tokens=80,
                                temperature=0.8, seed=1)
print(repr(out.choices[0].text))
print(out.usage)
same = language_model.generate("ROMEO:", WORK / "shakespeare", length=80, temperature=0.8,
                               seed=1)
assert "ROMEO:" + out.choices[0].text == same

# %% [markdown]
# Chat works too.  A character model has no notion of turns, so the server
# writes the conversation in the layout the model has read all along —
# speeches, `NAME:` then the lines — and stops at the end of the reply's
# speech (a blank line).

# %%
chat = client.chat.completions.create(
    model="shakespeare", max_tokens=120, seed=3,
    messages=[{"role": "user", "content": "What news from Verona?"}])
print(chat.choices[0].finish_reason, repr(chat.choices[0].message.content))

# %% [markdown]
# ## Streaming
#
# With `stream=True` the text arrives piece by piece as server-sent events
# (`data: {...}` lines, the last one `data: [DONE]`), so a reader sees the
# first words at once instead of waiting for the whole answer.

# %%
pieces = []
for chunk in client.completions.create(model="shakespeare", prompt="JULIET:", max_tokens=60,
                                       temperature=0.8, seed=2, stream=True):
    pieces.append(chunk.choices[0].text)
print(len(pieces), "events:", repr("".join(pieces)))

with httpx.stream("POST", URL + "/v1/completions",
                  json={"model": "shakespeare", "prompt": "KING:", "max_tokens": 3,
                        "stream": True}) as r:
    for line in r.iter_lines():
        if line:
            print(line[:110])

# %% [markdown]
# Generation is batched as well: the rows of all requests step together,
# one token each per step with their own recurrent state, and a new request
# joins the running batch at the next step.  A client that disconnects in
# the middle of a stream frees its row at once.

# %%
server.send_signal(signal.SIGTERM)
print("exit status:", server.wait(60))
