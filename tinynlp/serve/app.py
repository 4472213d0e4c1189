"""The HTTP API (Starlette): routes, JSON bodies, server-sent events, errors.

==============================  ======================================================
``GET  /health``                status, the model, queue and batch counters
``GET  /v1/models``             the OpenAI list shape (one model)
``POST /v1/classify``           ``{"input": str | [str]}`` → label + probabilities
``POST /v1/tag``                ``{"input": str | [str] | [[token]]}`` → tags
``POST /v1/translate``          ``{"input": str | [str], "beam_size"?: int}``
``POST /v1/completions``        OpenAI completions (``stream: true`` → SSE)
``POST /v1/chat/completions``   OpenAI chat completions (``stream: true`` → SSE)
==============================  ======================================================

Only the routes of the served model's kind exist (others answer 404 with
the list of those that do).  Every error is ``{"error": {"message", "type",
"code"}}`` with its HTTP status (:mod:`tinynlp.serve.validation`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import traceback
import uuid
from dataclasses import replace

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .batcher import MicroBatcher
from .generation import GenerationRow
from .scheduler import GenerationScheduler
from .validation import (
    ApiError,
    Limits,
    parse_body,
    parse_chat,
    parse_classify,
    parse_completion,
    parse_tag,
    parse_translate,
)

__all__ = ["ENDPOINTS", "create_app"]

ENDPOINTS = {
    "classifier": ["/v1/classify"],
    "tagger": ["/v1/tag"],
    "translator": ["/v1/translate"],
    "generator": ["/v1/completions", "/v1/chat/completions"],
}
_DRAIN_LIMIT = 64 << 20   # an over-long body is read (and dropped) up to this size, then cut


def _error(e: ApiError) -> JSONResponse:
    return JSONResponse(e.to_dict(), status_code=e.status)


def _endpoint(fn):
    """Answer :class:`ApiError` as JSON; any other failure is a 500 and the server lives on."""

    async def wrapped(request):
        try:
            return await fn(request)
        except ApiError as e:
            return _error(e)
        except ClientDisconnect:
            return Response(status_code=400)   # nobody is listening any more
        except Exception as e:
            traceback.print_exc()
            return _error(ApiError(500, f"internal error: {type(e).__name__}: {e}"))

    wrapped.__name__ = fn.__name__
    return wrapped


async def read_json(request: Request, limit: int) -> dict:
    """The request's JSON object; 413 past ``limit`` bytes (the rest is read and dropped,
    so that the client hears the answer)."""
    declared = request.headers.get("content-length")
    too_big = ApiError(413, f"the request body is over the limit of {limit} bytes")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, f"Content-Length: expected a number of bytes, got {declared!r}")
        if int(declared) > limit:
            await _drain(request.stream())
            raise too_big
    body = bytearray()
    stream = request.stream()
    async for chunk in stream:
        body += chunk
        if len(body) > limit:
            await _drain(stream, len(body))
            raise too_big
    return parse_body(bytes(body))


async def _drain(stream, seen=0):
    """Read the rest of a body and drop it (at most ``_DRAIN_LIMIT`` bytes in all)."""
    async for chunk in stream:
        seen += len(chunk)
        if seen > _DRAIN_LIMIT:
            break


class EventStream:
    """A ``text/event-stream`` response that notices a client leaving.

    ``events`` (an async iterator of strings) is sent as it comes; when the client
    disconnects, ``on_disconnect()`` is called at once (not at the next write), and
    ``events`` is closed whatever happens.
    """

    def __init__(self, events, on_disconnect):
        self.events, self.on_disconnect = events, on_disconnect

    async def __call__(self, scope, receive, send):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream; charset=utf-8"),
                                (b"cache-control", b"no-cache"),
                                (b"x-accel-buffering", b"no")]})

        async def watch():
            while (await receive())["type"] != "http.disconnect":
                pass
            self.on_disconnect()

        watcher = asyncio.ensure_future(watch())
        try:
            async for chunk in self.events:
                await send({"type": "http.response.body", "body": chunk.encode("utf-8"),
                            "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            self.on_disconnect()
        finally:
            watcher.cancel()
            await self.events.aclose()


def _settle(pairs):
    """In the event loop: hand each request its events of a generation step."""
    for emit, events in pairs:
        emit(events)


def _sse(obj) -> str:
    return "data: " + json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n\n"


class _Service:
    """The served model and its worker; the route handlers are its methods."""

    def __init__(self, adapter, model_id, limits, max_batch, max_wait):
        self.adapter, self.model_id, self.limits = adapter, model_id, limits
        self.max_batch, self.max_wait = max_batch, max_wait
        self.created = int(time.time())
        self.started = time.monotonic()
        worker = GenerationScheduler if adapter.kind == "generator" else MicroBatcher
        self.worker = worker(adapter, max_batch, max_wait, limits.max_queue)

    # ---- common
    def check_model(self, name):
        if name is not None and name != self.model_id:
            raise ApiError(404, f"model {name!r} not found; this server serves "
                                f"{self.model_id!r} (GET /v1/models)", "model")

    def check_room(self):
        if self.worker.full():
            raise ApiError(503, f"the server is overloaded ({self.limits.max_queue} requests "
                                "waiting); retry later")

    def model_card(self):
        return {"id": self.model_id, "object": "model", "created": self.created,
                "owned_by": "tinynlp", "task": self.adapter.task, "kind": self.adapter.kind,
                "description": getattr(self.adapter, "description", ""),
                "endpoints": ENDPOINTS[self.adapter.kind]}

    async def health(self, request):
        return JSONResponse({"status": "ok", "model": self.model_id, "task": self.adapter.task,
                             "kind": self.adapter.kind, "max_batch": self.max_batch,
                             "max_wait_ms": self.max_wait * 1000.0,
                             "uptime_s": round(time.monotonic() - self.started, 3),
                             **self.worker.stats.to_dict()})

    async def models(self, request):
        return JSONResponse({"object": "list", "data": [self.model_card()]})

    async def model(self, request):
        self.check_model(request.path_params["model_id"])
        return JSONResponse(self.model_card())

    # ---- batched tasks
    async def run_batch(self, items, key=None):
        self.check_room()
        result = self.worker.submit(items, key)

        def expire():
            if not result.done():
                result.set_exception(ApiError(504, "the request took longer than "
                                                   f"{self.limits.timeout:g} s"))
        timer = asyncio.get_running_loop().call_later(self.limits.timeout, expire)
        try:
            return await result
        except RuntimeError as e:
            raise ApiError(500, str(e)) from None
        finally:
            timer.cancel()

    def _listing(self, results):
        return JSONResponse({"object": "list", "model": self.model_id,
                             "data": [{"index": i, **r} for i, r in enumerate(results)]})

    async def classify(self, request):
        req = parse_classify(await read_json(request, self.limits.max_body_bytes), self.limits)
        self.check_model(req.model)
        return self._listing(await self.run_batch(req.texts))

    async def tag(self, request):
        req = parse_tag(await read_json(request, self.limits.max_body_bytes), self.limits)
        self.check_model(req.model)
        return self._listing(await self.run_batch(req.sentences))

    async def translate(self, request):
        req = parse_translate(await read_json(request, self.limits.max_body_bytes), self.limits)
        self.check_model(req.model)
        return self._listing(await self.run_batch([(t, req.beam_size) for t in req.texts],
                                                  key=req.beam_size))

    # ---- generation
    def _rows(self, prompts, params):
        rows = []
        for i, p in enumerate(prompts):
            ids = self.adapter.encode(p)
            ctx = self.adapter.max_context
            if ctx is not None and len(ids) + params.max_tokens > ctx:
                raise ApiError(422, f"prompt {i}: {len(ids)} tokens + max_tokens "
                                    f"{params.max_tokens} is over the model's context of {ctx}",
                               "max_tokens")
            rows.append(GenerationRow(ids, params))
        return rows

    def _start(self, rows, prompts):
        self.check_room()
        events = asyncio.Queue()
        job = self.worker.submit(rows, prompts, events.put_nowait)
        return job, events

    async def _events(self, job, events, n_rows, deadline):
        """Yield the worker's events until every row is done (or the deadline)."""
        open_rows = n_rows
        while open_rows:
            left = deadline - time.monotonic()
            try:
                evs = await asyncio.wait_for(events.get(), max(left, 0.0))
            except asyncio.TimeoutError:
                job.cancel()
                raise ApiError(504, f"the request took longer than {self.limits.timeout:g} s") \
                    from None
            if evs is None:          # the client left
                return
            for ev in evs:
                if ev[0] in ("done", "error"):
                    open_rows -= 1
                yield ev

    async def completions(self, request):
        req = parse_completion(await read_json(request, self.limits.max_body_bytes),
                               self.limits)
        self.check_model(req.model)
        rows = self._rows(req.prompts, req.params)
        return await self._generate(request, req, rows, req.prompts, chat=False)

    async def chat(self, request):
        req = parse_chat(await read_json(request, self.limits.max_body_bytes), self.limits)
        self.check_model(req.model)
        prompt, end_of_turn = self.adapter.chat_prompt(req.messages)
        params = req.params if req.stop_given else replace(req.params, stop=tuple(end_of_turn))
        return await self._generate(request, req, self._rows([prompt], params), [prompt],
                                    chat=True)

    async def _generate(self, request, req, rows, prompts, chat):
        kind = "chatcmpl" if chat else "cmpl"
        head = {"id": f"{kind}-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion" if chat else "text_completion",
                "created": int(time.time()), "model": self.model_id}
        prompt_tokens = sum(len(r.prompt_ids) for r in rows)
        deadline = time.monotonic() + self.limits.timeout
        job, events = self._start(rows, prompts)

        def gone():
            job.cancel()
            events.put_nowait(None)

        if req.stream:
            return EventStream(self._stream(head, job, events, len(rows), deadline, chat,
                                             req.include_usage, prompt_tokens), gone)
        watcher = asyncio.ensure_future(_watch_disconnect(request, gone))
        try:
            texts, reasons, counts = [""] * len(rows), [None] * len(rows), [0] * len(rows)
            async for ev in self._events(job, events, len(rows), deadline):
                if ev[0] == "text":
                    texts[ev[1]] += ev[2]
                elif ev[0] == "done":
                    reasons[ev[1]], counts[ev[1]] = ev[2], ev[3]
                else:
                    raise ApiError(500, ev[2])
        finally:
            watcher.cancel()
        if any(r is None for r in reasons):
            return Response(status_code=400)     # the client left
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": sum(counts),
                 "total_tokens": prompt_tokens + sum(counts)}
        if chat:
            choices = [{"index": 0, "message": {"role": "assistant", "content": texts[0].lstrip()},
                        "logprobs": None, "finish_reason": reasons[0]}]
        else:
            choices = [{"index": i, "text": t, "logprobs": None, "finish_reason": r}
                       for i, (t, r) in enumerate(zip(texts, reasons))]
        return JSONResponse({**head, "choices": choices, "usage": usage})

    async def _stream(self, head, job, events, n_rows, deadline, chat, include_usage,
                      prompt_tokens):
        head = {**head, "object": "chat.completion.chunk" if chat else "text_completion"}
        extra = {"usage": None} if include_usage else {}

        def chunk(index, piece, reason=None):
            if chat:
                delta = {} if piece is None else (piece if isinstance(piece, dict)
                                                  else {"content": piece})
                choice = {"index": index, "delta": delta, "logprobs": None,
                          "finish_reason": reason}
            else:
                choice = {"index": index, "text": piece or "", "logprobs": None,
                          "finish_reason": reason}
            return _sse({**head, "choices": [choice], **extra})

        completion = 0
        started = [False] * n_rows    # chat: leading white space is dropped
        try:
            if chat:
                yield chunk(0, {"role": "assistant", "content": ""})
            async for ev in self._events(job, events, n_rows, deadline):
                if ev[0] == "text":
                    piece = ev[2]
                    if chat and not started[ev[1]]:
                        piece = piece.lstrip()
                        started[ev[1]] = bool(piece)
                    if piece:
                        yield chunk(ev[1], piece)
                elif ev[0] == "done":
                    completion += ev[3]
                    yield chunk(ev[1], None, ev[2])
                else:
                    yield _sse(ApiError(500, ev[2]).to_dict())
        except ApiError as e:
            yield _sse(e.to_dict())
        if include_usage:
            yield _sse({**head, "choices": [], "usage": {
                "prompt_tokens": prompt_tokens, "completion_tokens": completion,
                "total_tokens": prompt_tokens + completion}})
        yield "data: [DONE]\n\n"


async def _watch_disconnect(request, on_disconnect):
    """Call ``on_disconnect`` when the client of a (fully read) request goes away."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
    on_disconnect()


def create_app(adapter, model_id="model", max_batch=32, max_wait_ms=5.0, limits=None):
    """The Starlette app serving ``adapter`` (from :func:`tinynlp.serve.load_adapter`).

    The worker thread starts with the app (ASGI lifespan) and, at shutdown,
    finishes what is queued before it stops.
    """
    limits = limits or Limits()
    svc = _Service(adapter, model_id, limits, max_batch, max_wait_ms / 1000.0)
    routes = [Route("/health", _endpoint(svc.health)),
              Route("/v1/models", _endpoint(svc.models)),
              Route("/v1/models/{model_id:path}", _endpoint(svc.model))]
    handlers = {"classifier": [svc.classify], "tagger": [svc.tag], "translator": [svc.translate],
                "generator": [svc.completions, svc.chat]}
    if adapter.kind not in handlers:
        raise ValueError(f"adapter kind must be one of {sorted(handlers)}, got {adapter.kind!r}")
    for path, fn in zip(ENDPOINTS[adapter.kind], handlers[adapter.kind]):
        routes.append(Route(path, _endpoint(fn), methods=["POST"]))

    async def not_found(request, exc):
        if exc.status_code == 405:
            return _error(ApiError(405, f"{request.method} {request.url.path}: method not "
                                        "allowed (use POST)"))
        if exc.status_code != 404:
            return _error(ApiError(exc.status_code, str(exc.detail)))
        paths = ["/health", "/v1/models"] + ENDPOINTS[adapter.kind]
        return _error(ApiError(404, f"no route {request.url.path}: this {adapter.task} model "
                                    f"serves {', '.join(paths)}"))

    @contextlib.asynccontextmanager
    async def lifespan(app):
        worker = svc.worker
        if isinstance(worker, MicroBatcher):
            await worker.start()
        else:
            loop = asyncio.get_running_loop()
            # one wake-up of the event loop per generation step, whatever the batch
            worker.deliver = lambda pairs: loop.call_soon_threadsafe(_settle, pairs)
            worker.start()
        try:
            yield
        finally:
            if isinstance(worker, MicroBatcher):
                await worker.stop()
            else:
                await asyncio.to_thread(worker.stop)

    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: not_found})
    app.state.service = svc
    return app
