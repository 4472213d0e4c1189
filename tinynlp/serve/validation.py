"""Request validation: JSON bodies → typed requests, or an :class:`ApiError`.

Every check names the field, what was expected and what came.  Status codes:

* 400 — the body is not valid JSON;
* 404 — an unknown model (or route);
* 413 — the body is larger than ``Limits.max_body_bytes``;
* 422 — valid JSON that breaks the schema: a wrong type, a missing or
  unknown field, an empty input, a value out of range or over a limit
  (input length, number of inputs, ``max_tokens``).

Known OpenAI fields that this server does not implement (``n``,
``logprobs``, penalties, ...) are accepted only at their neutral value
(``n: 1``, ``presence_penalty: 0``, ...) and refused otherwise, so a client
never silently gets something other than what it asked for.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from .generation import SamplingParams

__all__ = [
    "ApiError",
    "ChatRequest",
    "ClassifyRequest",
    "CompletionRequest",
    "Limits",
    "TagRequest",
    "TranslateRequest",
    "parse_body",
    "parse_chat",
    "parse_classify",
    "parse_completion",
    "parse_tag",
    "parse_translate",
]

ERROR_TYPES = {400: "invalid_request_error", 404: "not_found_error", 405: "invalid_request_error",
               413: "request_too_large", 422: "invalid_request_error", 500: "server_error",
               503: "overloaded_error", 504: "timeout_error"}


ANY = object()   # a known field whose every value is harmless (e.g. "user")


class ApiError(Exception):
    """An error answered as ``{"error": {"message", "type", ...}}`` with ``status``."""

    def __init__(self, status: int, message: str, param: str | None = None,
                 type: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param = status, message, param
        self.type = type or ERROR_TYPES.get(status, "server_error")

    def to_dict(self) -> dict:
        err = {"message": self.message, "type": self.type, "code": self.status}
        if self.param is not None:
            err["param"] = self.param
        return {"error": err}


@dataclass(frozen=True)
class Limits:
    """What one request may ask for (each over-the-limit request gets a 413 / 422)."""

    max_body_bytes: int = 1 << 20        # request body
    max_inputs: int = 256                # strings in one request (input / prompt list / messages)
    max_input_chars: int = 20_000        # characters in one input string (all messages together)
    max_tokens: int = 2048               # the largest max_tokens a generation may ask for
    default_max_tokens: int = 16         # OpenAI's default for /v1/completions
    timeout: float = 60.0                # seconds for one request, streams included
    max_queue: int = 4096                # requests waiting for the model before 503

    def __post_init__(self):
        for name in ("max_body_bytes", "max_inputs", "max_input_chars", "max_tokens",
                     "default_max_tokens", "max_queue"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"Limits.{name}: expected a positive int, got {v!r}")
        if not self.timeout > 0:
            raise ValueError(f"Limits.timeout: expected seconds > 0, got {self.timeout!r}")


# ----------------------------------------------------------------------- requests
@dataclass
class ClassifyRequest:
    model: str | None
    texts: list[str]


@dataclass
class TagRequest:
    model: str | None
    sentences: list[list[str]]     # token lists


@dataclass
class TranslateRequest:
    model: str | None
    texts: list[str]
    beam_size: int


@dataclass
class CompletionRequest:
    model: str
    prompts: list[str]
    params: SamplingParams
    stream: bool = False
    include_usage: bool = False


@dataclass
class ChatRequest:
    model: str
    messages: list[dict] = field(default_factory=list)   # [{"role", "content"}]
    params: SamplingParams | None = None
    stop_given: bool = False      # False: the adapter's end-of-turn stops apply
    stream: bool = False
    include_usage: bool = False


# ----------------------------------------------------------------------- helpers
def parse_body(raw: bytes) -> dict:
    """The JSON object of a request body (400 if not JSON, 422 if not an object)."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ApiError(400, f"the request body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise ApiError(422, f"the request body must be a JSON object, got {_kind(body)}")
    return body


def _kind(v) -> str:
    if v is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(v), type(v).__name__)


def _check_fields(body: dict, allowed: set, neutral: dict | None = None):
    """422 for a field outside ``allowed`` ∪ ``neutral``, or a ``neutral`` (known but
    unimplemented) field given a value other than its neutral ones."""
    neutral = neutral or {}
    for k, v in body.items():
        if k in allowed:
            continue
        if k in neutral:
            if v is None or neutral[k] is ANY or v in neutral[k]:
                continue
            raise ApiError(422, f"{k!r} = {v!r} is not supported by this server (accepted: "
                                f"{', '.join(repr(x) for x in neutral[k])} or null)", k)
        known = ", ".join(sorted(allowed))
        raise ApiError(422, f"unknown field {k!r}; this endpoint accepts: {known}", k)


def _text(v, name, limits: Limits) -> str:
    if not isinstance(v, str):
        raise ApiError(422, f"{name}: expected a string, got {_kind(v)}", name)
    if len(v) > limits.max_input_chars:
        raise ApiError(422, f"{name}: {len(v)} characters is over the limit of "
                            f"{limits.max_input_chars}", name)
    return v


def _texts(v, name, limits: Limits, allow_empty_string=False) -> list[str]:
    """A string or a non-empty array of strings (each non-blank unless allowed)."""
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list):
        raise ApiError(422, f"{name}: expected a string or an array of strings, got {_kind(v)}",
                       name)
    if not items:
        raise ApiError(422, f"{name}: empty array; send at least one string", name)
    if len(items) > limits.max_inputs:
        raise ApiError(422, f"{name}: {len(items)} strings is over the limit of "
                            f"{limits.max_inputs} per request", name)
    out = []
    for i, s in enumerate(items):
        where = name if isinstance(v, str) else f"{name}[{i}]"
        s = _text(s, where, limits)
        if not allow_empty_string and not s.strip():
            raise ApiError(422, f"{where}: empty input; expected some text", name)
        out.append(s)
    return out


def _model(body, required=False):
    m = body.get("model")
    if m is None:
        if required:
            raise ApiError(422, "model: required (see GET /v1/models)", "model")
        return None
    if not isinstance(m, str):
        raise ApiError(422, f"model: expected a string, got {_kind(m)}", "model")
    return m


def _int(body, name, default, lo, hi):
    v = body.get(name)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int):
        raise ApiError(422, f"{name}: expected an integer, got {_kind(v)}", name)
    if not lo <= v <= hi:
        raise ApiError(422, f"{name}: expected an integer in [{lo}, {hi}], got {v}", name)
    return v


def _number(body, name, default, lo, hi):
    v = body.get(name)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ApiError(422, f"{name}: expected a number, got {_kind(v)}", name)
    if not lo <= v <= hi:
        raise ApiError(422, f"{name}: expected a number in [{lo}, {hi}], got {v}", name)
    return float(v)


def _bool(body, name, default=False):
    v = body.get(name)
    if v is None:
        return default
    if not isinstance(v, bool):
        raise ApiError(422, f"{name}: expected true or false, got {_kind(v)}", name)
    return v


# ----------------------------------------------------------------------- endpoints
def parse_classify(body: dict, limits: Limits) -> ClassifyRequest:
    """``{"input": str | [str], "model"?: str}``."""
    _check_fields(body, {"input", "model"}, {"user": ANY})
    if "input" not in body:
        raise ApiError(422, "input: required (a string or an array of strings)", "input")
    return ClassifyRequest(_model(body), _texts(body["input"], "input", limits))


def parse_tag(body: dict, limits: Limits) -> TagRequest:
    """``{"input": str | [str] | [[token]]}``: strings are split on whitespace."""
    _check_fields(body, {"input", "model"}, {"user": ANY})
    if "input" not in body:
        raise ApiError(422, "input: required (a sentence, an array of sentences or of "
                            "token arrays)", "input")
    v = body["input"]
    if isinstance(v, list) and v and all(isinstance(s, list) for s in v):
        if len(v) > limits.max_inputs:
            raise ApiError(422, f"input: {len(v)} sentences is over the limit of "
                                f"{limits.max_inputs} per request", "input")
        sentences = []
        for i, toks in enumerate(v):
            if not toks:
                raise ApiError(422, f"input[{i}]: empty token array", "input")
            for j, t in enumerate(toks):
                if not isinstance(t, str) or not t.strip() or any(c.isspace() for c in t):
                    raise ApiError(422, f"input[{i}][{j}]: expected a token (a non-empty "
                                        f"string without spaces), got {t!r}", "input")
            if sum(len(t) + 1 for t in toks) > limits.max_input_chars:
                raise ApiError(422, f"input[{i}]: over the limit of {limits.max_input_chars} "
                                    "characters", "input")
            sentences.append(list(toks))
        return TagRequest(_model(body), sentences)
    return TagRequest(_model(body), [s.split() for s in _texts(v, "input", limits)])


def parse_translate(body: dict, limits: Limits) -> TranslateRequest:
    """``{"input": str | [str], "beam_size"?: int (default 4; 1 = greedy)}``."""
    _check_fields(body, {"input", "model", "beam_size"}, {"user": ANY})
    if "input" not in body:
        raise ApiError(422, "input: required (a string or an array of strings)", "input")
    return TranslateRequest(_model(body), _texts(body["input"], "input", limits),
                            _int(body, "beam_size", 4, 1, 16))


_SAMPLING = {"model", "max_tokens", "temperature", "top_p", "top_k", "stop", "seed", "stream",
             "stream_options"}
_NEUTRAL = {"n": (1,), "frequency_penalty": (0, 0.0), "presence_penalty": (0, 0.0),
            "logit_bias": ({},), "user": ANY, "logprobs": (False, 0)}


def _stop(body, limits):
    v = body.get("stop")
    if v is None:
        return ()
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise ApiError(422, f"stop: expected a string or an array of strings, got {_kind(v)}",
                       "stop")
    if len(items) > 4 or any(not s for s in items):
        raise ApiError(422, "stop: at most 4 non-empty strings", "stop")
    return tuple(items)


def _sampling(body, limits: Limits, default_max_tokens, max_tokens_name="max_tokens"):
    opts = body.get("stream_options")
    if opts is not None:
        if not isinstance(opts, dict) or set(opts) - {"include_usage"}:
            raise ApiError(422, "stream_options: expected {\"include_usage\": bool}",
                           "stream_options")
        _bool(opts, "include_usage")
    max_tokens = _int(body, max_tokens_name, None, 1, limits.max_tokens)
    top_k = _int(body, "top_k", None, 0, 1 << 30)
    params = SamplingParams(
        max_tokens=default_max_tokens if max_tokens is None else max_tokens,
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 0.0, 1.0),
        top_k=top_k or None,
        seed=_int(body, "seed", None, 0, (1 << 64) - 1),
        stop=_stop(body, limits))
    if params.top_p == 0.0:
        raise ApiError(422, "top_p: expected a number in (0, 1], got 0", "top_p")
    stream = _bool(body, "stream")
    include_usage = bool(opts and opts.get("include_usage"))
    if opts is not None and not stream:
        raise ApiError(422, "stream_options: only allowed with stream: true", "stream_options")
    return params, stream, include_usage


def parse_completion(body: dict, limits: Limits) -> CompletionRequest:
    """OpenAI ``/v1/completions``: ``prompt`` (a string or an array of strings),
    ``max_tokens`` (default 16), ``temperature``, ``top_p``, ``top_k`` (an extension),
    ``stop``, ``seed``, ``stream``, ``stream_options``."""
    _check_fields(body, _SAMPLING | {"prompt"},
                  {**_NEUTRAL, "echo": (False,), "best_of": (1,), "suffix": ()})
    model = _model(body, required=True)
    if "prompt" not in body:
        raise ApiError(422, "prompt: required (a string or an array of strings)", "prompt")
    v = body["prompt"]
    if isinstance(v, list) and v and all(isinstance(t, int) and not isinstance(t, bool)
                                         for t in v):
        raise ApiError(422, "prompt: token-id prompts are not supported; send text", "prompt")
    prompts = _texts(v, "prompt", limits, allow_empty_string=True)
    params, stream, usage = _sampling(body, limits, min(limits.default_max_tokens,
                                                        limits.max_tokens))
    return CompletionRequest(model, prompts, params, stream, usage)


ROLES = ("system", "user", "assistant")


def parse_chat(body: dict, limits: Limits) -> ChatRequest:
    """OpenAI ``/v1/chat/completions``: ``messages`` [{"role", "content"}], and the
    sampling fields of :func:`parse_completion` (``max_completion_tokens`` is accepted
    as ``max_tokens``; the default is ``Limits.max_tokens`` capped at 256)."""
    _check_fields(body, _SAMPLING | {"messages", "max_completion_tokens"},
                  {**_NEUTRAL, "top_logprobs": (0,), "parallel_tool_calls": ANY,
                   "response_format": ({"type": "text"},), "tools": ([],),
                   "tool_choice": ("none",)})
    model = _model(body, required=True)
    msgs = body.get("messages")
    if not isinstance(msgs, list):
        raise ApiError(422, f"messages: required, an array of {{\"role\", \"content\"}} objects; "
                            f"got {_kind(msgs)}", "messages")
    if not msgs:
        raise ApiError(422, "messages: empty array; send at least one message", "messages")
    if len(msgs) > limits.max_inputs:
        raise ApiError(422, f"messages: {len(msgs)} is over the limit of {limits.max_inputs}",
                       "messages")
    out, total = [], 0
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise ApiError(422, f"messages[{i}]: expected an object, got {_kind(m)}", "messages")
        extra = set(m) - {"role", "content", "name"}
        if extra:
            raise ApiError(422, f"messages[{i}]: unknown field {sorted(extra)[0]!r}", "messages")
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise ApiError(422, f"messages[{i}].role: expected one of {ROLES}, got {role!r}",
                           "messages")
        if isinstance(content, list):  # the array-of-parts form: text parts only
            parts = []
            for p in content:
                if not (isinstance(p, dict) and p.get("type") == "text"
                        and isinstance(p.get("text"), str)):
                    raise ApiError(422, f"messages[{i}].content: only text parts are supported",
                                   "messages")
                parts.append(p["text"])
            content = "".join(parts)
        if not isinstance(content, str):
            raise ApiError(422, f"messages[{i}].content: expected a string, got "
                                f"{_kind(content)}", "messages")
        total += len(content)
        out.append({"role": role, "content": content})
    if total > limits.max_input_chars:
        raise ApiError(422, f"messages: {total} characters is over the limit of "
                            f"{limits.max_input_chars}", "messages")
    if not any(m["content"].strip() for m in out):
        raise ApiError(422, "messages: every message is empty; expected some text", "messages")
    if body.get("max_tokens") is not None and body.get("max_completion_tokens") is not None:
        raise ApiError(422, "give max_tokens or max_completion_tokens, not both", "max_tokens")
    name = "max_completion_tokens" if body.get("max_completion_tokens") is not None \
        else "max_tokens"
    params, stream, usage = _sampling(body, limits, min(256, limits.max_tokens), name)
    return ChatRequest(model, out, params, body.get("stop") is not None, stream, usage)
