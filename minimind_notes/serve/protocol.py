"""OpenAI's chat-completions protocol: the request as pydantic checks it, errors in OpenAI's body, the prompt
fitted into the model's window, and the reply split as it streams into reasoning, content and tool calls."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from minimind_notes.chat import FittedPrompt, fit_chat
from minimind_notes.data.tokenizer import MiniMindTokenizer
from minimind_notes.data.tool_calls import parse_call
from minimind_notes.errors import MiniMindError
from minimind_notes.train.config import SEED_MAX

THINK_CLOSE, TOOL_OPEN = "</think>", "<tool_call>"
TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)


class APIError(Exception):
    """A request the server refuses, answered with OpenAI's error body and an HTTP status."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ToolFunction(BaseModel):
    name: str = Field(min_length=1)
    description: str | None = None
    parameters: dict[str, Any] | None = None


class Tool(BaseModel):
    type: Literal["function"]
    function: ToolFunction


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")  # `name` and the like: the chat template has no place for them

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    reasoning_content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None

    def for_template(self) -> dict[str, Any]:
        """The message as the chat template reads it: text parts joined, OpenAI's `developer` as `system`."""
        content = self.content if not isinstance(self.content, list) else "".join(p.text for p in self.content)
        message: dict[str, Any] = {"role": "system" if self.role == "developer" else self.role,
                                   "content": content or ""}  # OpenAI's null content beside tool calls
        for key in ("reasoning_content", "tool_calls"):
            if getattr(self, key):
                message[key] = getattr(self, key)
        return message


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    """POST /v1/chat/completions. Strict: "0.5" is not a number. Fields OpenAI has and this server does not use
    (frequency_penalty, user, ...) are ignored; top_k and repetition_penalty are extras, as in vLLM."""

    model_config = ConfigDict(strict=True, extra="ignore")

    model: str
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)  # OpenAI's newer name for max_tokens
    # None: `minimind chat`'s defaults for the model's size (model.generation.default_sampling)
    temperature: float | None = Field(None, ge=0, le=2, allow_inf_nan=False)
    top_p: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    top_k: int = Field(0, ge=0)
    repetition_penalty: float = Field(1.0, gt=0, allow_inf_nan=False)
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=0, le=SEED_MAX)
    n: int = Field(1, ge=1, le=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto"] | None = None
    open_thinking: bool | None = None  # minimind-3: the reply starts with its reasoning (MiniMind's name)
    chat_template_kwargs: dict[str, Any] | None = None  # vLLM's way: {"enable_thinking": true}

    def stop_strings(self) -> list[str]:
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        if len(stop) > 4 or not all(stop):
            raise APIError(400, "stop takes at most 4 non-empty strings", param="stop")
        return stop

    def thinking(self) -> bool:
        options = self.chat_template_kwargs or {}
        value = next((v for v in (self.open_thinking, options.get("enable_thinking"), options.get("open_thinking"))
                      if v is not None), False)
        if not isinstance(value, bool):
            raise APIError(400, "enable_thinking must be true or false", param="chat_template_kwargs")
        return value

    def tool_schemas(self) -> list[dict[str, Any]] | None:
        return [t.model_dump(exclude_none=True) for t in self.tools] if self.tools and self.tool_choice != "none" \
            else None


def fit_request(tok: MiniMindTokenizer, messages: Sequence[dict[str, Any]], tools: list[dict] | None,
                thinking: bool, budget: int) -> FittedPrompt:
    """The conversation's ids, with the reply prompt, in at most `budget` tokens, cut as `minimind chat` cuts it
    (`fit_chat`: the oldest messages go first, then the start of the newest), in the tokenizer's own template
    (minimind-3's shows tools, tool calls, reasoning and whether the reply thinks)."""
    try:
        if tok.generation != "minimind-3":
            if tools or thinking:
                raise APIError(400, f"tools and thinking need a minimind-3 model; this one uses {tok.describe()}",
                               param="tools" if tools else "chat_template_kwargs")
            tok.check_chat(messages, tools)  # reasoning or tool calls in a message: refused, never dropped
            return fit_chat(tok, messages, budget)
        return fit_chat(tok, messages, budget, tools, open_thinking=thinking)
    except MiniMindError as e:
        code = "context_length_exceeded" if "leave no room" in str(e) else None
        raise APIError(400, str(e), param="messages", code=code) from e


def held_back(text: str, markers: Sequence[str]) -> int:
    """How many characters at the end of `text` may be the start of a marker: they wait for the next piece."""
    return max((k for m in markers for k in range(min(len(m) - 1, len(text)), 0, -1) if text.endswith(m[:k])),
               default=0)


def parse_tool_calls(text: str) -> list[dict[str, Any]] | None:
    """OpenAI's tool_calls (each with an id) from minimind-3's <tool_call>{"name": ..., "arguments": {...}}
    </tool_call> blocks; None unless the text is nothing but well-formed calls (then it stays content: nothing
    is dropped)."""
    calls = [parse_call(body) for body in TOOL_CALL.findall(text)]
    if TOOL_CALL.sub("", text).strip() or not calls or None in calls:
        return None
    return [{"id": f"call_{uuid.uuid4().hex[:24]}", **call} for call in calls]


@dataclass
class Delta:
    reasoning: str = ""
    content: str = ""


@dataclass
class ReplySplitter:
    """A reply as it streams, split the way OpenAI's API returns it: reasoning_content (a thinking minimind-3
    model writes it before </think>), content, and tool calls (minimind-3's <tool_call> blocks, held back and
    parsed at the end). A stop string ends the content. Text that may be the start of </think>, <tool_call>
    or a stop string waits for the next piece, so no marker is ever sent in part."""

    thinking: bool
    tools: bool
    stop: list[str]
    part: str = ""  # reasoning, content, calls
    pending: str = ""  # received, not yet sent
    calls_text: str = ""
    stopped: bool = False  # a stop string was found
    after_think: bool = False  # the line breaks the template puts between </think> and the answer are not sent

    def __post_init__(self) -> None:
        self.part = "reasoning" if self.thinking else "content"

    def feed(self, piece: str, final: bool = False) -> Delta:
        self.pending += piece
        delta = Delta()
        while self.part == "reasoning":
            head, found, rest = self.pending.partition(THINK_CLOSE)
            if found:
                delta.reasoning += head.rstrip("\n")
                self.pending, self.part, self.after_think = rest, "content", True
                break
            marker_start = held_back(head, [THINK_CLOSE])
            before = head[:len(head) - marker_start]
            keep = 0 if final else marker_start + len(before) - len(before.rstrip("\n"))  # line breaks before </think>
            delta.reasoning += head[:len(head) - keep]
            self.pending = head[len(head) - keep:]
            break
        if self.part == "content" and not self.stopped:
            if self.after_think:
                self.pending = self.pending.lstrip("\n")
                self.after_think = not self.pending
            markers = [*self.stop, *([TOOL_OPEN] if self.tools else [])]
            found = min(((i, m) for m in markers if (i := self.pending.find(m)) >= 0), default=None)
            if found:
                at, marker = found
                delta.content += self.pending[:at]
                if marker == TOOL_OPEN:
                    self.part, self.pending = "calls", self.pending[at:]
                else:
                    self.stopped, self.pending = True, ""
            else:
                keep = 0 if final else held_back(self.pending, markers)
                delta.content += self.pending[:len(self.pending) - keep]
                self.pending = self.pending[len(self.pending) - keep:]
        if self.part == "calls":
            self.calls_text, self.pending = self.calls_text + self.pending, ""
        return delta

    def finish(self) -> tuple[Delta, list[dict[str, Any]] | None]:
        """The text still held back, and the tool calls (text that does not parse as calls is content)."""
        delta = self.feed("", final=True)
        calls = parse_tool_calls(self.calls_text) if self.calls_text else None
        if self.calls_text and calls is None:
            delta.content += self.calls_text
        return delta, calls
