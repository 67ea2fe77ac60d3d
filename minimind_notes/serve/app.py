"""The FastAPI application: OpenAI's routes over the engine, its error bodies, the API key, the chat page."""

from __future__ import annotations

import asyncio
import hmac
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from importlib.resources import files
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException

from minimind_notes.chat import prompt_budget
from minimind_notes.model import SamplingConfig
from minimind_notes.model.generation import default_sampling
from minimind_notes.serve.engine import Engine, Job
from minimind_notes.serve.protocol import APIError, ChatRequest, Delta, ReplySplitter, fit_request

PAGE = files("minimind_notes.serve") / "static" / "index.html"  # the chat page, shipped in the package
DISCONNECT_POLL_S = 0.25  # how often a non-streamed request checks that its client is still there


def create_app(engine: Engine, model_id: str, api_key: str | None = None, max_tokens: int = 512) -> FastAPI:
    """The server for `engine`'s model, named `model_id`; `max_tokens`: a reply's length when a request
    does not say."""
    app = FastAPI(title="minimind serve", docs_url=None, redoc_url=None, openapi_url=None)
    created = int(time.time())
    parameters = sum(p.numel() for p in engine.model.parameters())
    sampling = default_sampling(parameters)  # what a request that names no temperature or top_p gets
    thinks = engine.tok.generation == "minimind-3"

    @app.exception_handler(APIError)
    async def api_error(request: Request, e: APIError) -> JSONResponse:
        return JSONResponse(e.body(), status_code=e.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0]
        where = ".".join(str(part) for part in first["loc"] if part != "body")
        message = f"{where or 'body'}: {first['msg']}" + (f" (got {first['input']!r:.80})" if "input" in first
                                                          and first["type"] != "missing" else "")
        return await api_error(request, APIError(400, message, param=where or None, code=first["type"]))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException) -> JSONResponse:
        return await api_error(request, APIError(e.status_code, f"{request.method} {request.url.path}: {e.detail}"))

    @app.exception_handler(Exception)
    async def bug(request: Request, e: Exception) -> JSONResponse:
        print(f"minimind serve: {type(e).__name__}: {e} (a bug: MINIMIND_DEBUG=1 shows where)", file=sys.stderr)
        return await api_error(request, APIError(500, f"internal error: {type(e).__name__}", kind="server_error"))

    async def check_key(request: Request) -> None:
        if api_key is None:
            return
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), api_key.encode()):
            raise APIError(401, "missing or wrong API key: send it as the header `Authorization: Bearer KEY`",
                           code="invalid_api_key")

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return PAGE.read_text(encoding="utf-8")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": model_id, "in_flight": engine.in_flight, "cancelled": engine.cancelled}

    @app.get("/v1/models", dependencies=[Depends(check_key)])
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{
            "id": model_id, "object": "model", "created": created, "owned_by": "minimind-notes",
            "weights": str(engine.path), "parameters": parameters, "context_window": engine.window,
            "tokenizer": engine.tok.describe(), "thinking": thinks, "tools": thinks, "scheduling": "round-robin",
            "default_sampling": {"temperature": sampling.temperature, "top_p": sampling.top_p}}]}

    @app.post("/v1/chat/completions", dependencies=[Depends(check_key)])
    async def chat_completions(body: ChatRequest, request: Request) -> Any:
        if body.model != model_id:
            raise APIError(404, f"the model {body.model!r} does not exist: this server has {model_id!r}",
                           param="model", code="model_not_found")
        completion = Completion(engine, body, max_tokens, sampling)
        if body.stream:
            return StreamingResponse(completion.sse(model_id), media_type="text/event-stream")
        watcher = asyncio.create_task(cancel_on_disconnect(request, completion))
        try:
            return await completion.whole(model_id)
        finally:
            watcher.cancel()

    return app


async def cancel_on_disconnect(request: Request, completion: Completion) -> None:
    while not await request.is_disconnected():
        await asyncio.sleep(DISCONNECT_POLL_S)
    completion.cancel()


class Completion:
    """One request's reply: its prompt fitted to the window, generated by the engine, split into OpenAI's parts."""

    def __init__(self, engine: Engine, body: ChatRequest, default_max_tokens: int, sampling: SamplingConfig) -> None:
        tok = engine.tok
        thinking, tools = body.thinking(), body.tool_schemas()
        wanted = body.max_completion_tokens or body.max_tokens or default_max_tokens
        fitted = fit_request(tok, [m.for_template() for m in body.messages], tools, thinking,
                             prompt_budget(engine.window, wanted))
        self.room = engine.window - len(fitted.ids)
        self.max_new_tokens = min(wanted, self.room)
        self.prompt_tokens, self.notes = len(fitted.ids), [fitted.note] if fitted.note else []
        keep_markers = tok.generation == "minimind-3"
        self.splitter = ReplySplitter(thinking and keep_markers, bool(tools), body.stop_strings())
        cfg = SamplingConfig(max_new_tokens=self.max_new_tokens, top_k=body.top_k,
                             temperature=sampling.temperature if body.temperature is None else body.temperature,
                             top_p=sampling.top_p if body.top_p is None else body.top_p,
                             repetition_penalty=body.repetition_penalty, eos_token_id=tok.eos_token_id)
        self.include_usage = bool(body.stream_options and body.stream_options.include_usage)
        self.id, self.created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        self.tokens, self.tool_calls, self.finish_reason = 0, None, "stop"
        self.job: Job = engine.submit(fitted.ids, cfg, body.seed, keep_markers)
        self.started = time.perf_counter()

    def cancel(self) -> None:
        self.job.cancel()

    async def deltas(self) -> AsyncIterator[Delta]:
        """The reply's parts as they come; then tool_calls, finish_reason and tokens are known."""
        try:
            async for tokens, piece in self.job:
                self.tokens = tokens
                delta = self.splitter.feed(piece)
                if delta.reasoning or delta.content:
                    yield delta
                if self.splitter.stopped:
                    break
        finally:
            self.job.cancel()  # a stop string, a client gone: the engine drops it at its next turn
        delta, self.tool_calls = self.splitter.finish()
        if delta.reasoning or delta.content:
            yield delta
        if self.tool_calls:
            self.finish_reason = "tool_calls"
        elif not self.splitter.stopped and self.tokens >= self.max_new_tokens:
            self.finish_reason = "length"
            if self.room == self.max_new_tokens:
                self.notes.append(f"the reply stopped at the end of the model's window of "
                                  f"{self.room + self.prompt_tokens} tokens")

    def usage(self) -> dict[str, Any]:
        seconds = time.perf_counter() - self.started
        usage: dict[str, Any] = {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.tokens,
                                 "total_tokens": self.prompt_tokens + self.tokens,
                                 "tokens_per_second": round(self.tokens / max(seconds, 1e-9), 2)}
        if self.notes:
            usage["truncated"] = "; ".join(self.notes)  # what was cut to fit the model's window
        return usage

    async def whole(self, model_id: str) -> dict[str, Any]:
        reasoning, content = [], []
        async for delta in self.deltas():
            reasoning.append(delta.reasoning)
            content.append(delta.content)
        message: dict[str, Any] = {"role": "assistant", "content": "".join(content) or None}
        if self.splitter.thinking:
            message["reasoning_content"] = "".join(reasoning)
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        elif message["content"] is None:
            message["content"] = ""
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": model_id,
                "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason, "logprobs": None}],
                "usage": self.usage()}

    async def sse(self, model_id: str) -> AsyncIterator[str]:
        """Server-sent events in OpenAI's chunk format, then [DONE]. An error once the stream has begun can only
        be told in the stream: an error body as the last event."""

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
            body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": model_id,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]}
            return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        try:
            async for delta in self.deltas():
                parts = {"reasoning_content": delta.reasoning} if delta.reasoning else {}
                yield chunk({**parts, **({"content": delta.content} if delta.content else {})})
        except Exception as e:
            error = APIError(500, f"generation failed: {type(e).__name__}: {e}", kind="server_error")
            yield f"data: {json.dumps(error.body())}\n\n"
            return
        if self.tool_calls:
            yield chunk({"tool_calls": [{"index": i, **call} for i, call in enumerate(self.tool_calls)]})
        yield chunk({}, self.finish_reason)
        if self.include_usage:
            usage_chunk = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                           "model": model_id, "choices": [], "usage": self.usage()}
            yield f"data: {json.dumps(usage_chunk)}\n\n"
        yield "data: [DONE]\n\n"

