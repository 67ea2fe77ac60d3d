"""`minimind serve`: the real server on a free port, spoken to with the official `openai` client; the reply
splitter (reasoning, content, tool calls, stop strings) on pieces cut at every place; minimind-3's tools and
thinking in-process; the chat page in a real headless browser (slow)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

pytest.importorskip("fastapi", reason="`minimind serve` needs the serve extra: pip install 'minimind-notes[serve]'")
openai = pytest.importorskip("openai", reason="the tests speak to the server with the official openai client")
httpx = pytest.importorskip("httpx")

from minimind_notes.data.tokenizer import MiniMindTokenizer, default_tokenizer_dir  # noqa: E402
from minimind_notes.model import MiniMindForCausalLM, preset, save_checkpoint  # noqa: E402
from minimind_notes.serve.protocol import ReplySplitter, parse_tool_calls  # noqa: E402

KEY = "sk-test-key"
WINDOW = 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_weights(folder, tok: MiniMindTokenizer, generation: str = "MiniMind2", window: int = WINDOW):
    """Random weights of a tiny model, saved as training saves them (the tokenizer's identity recorded)."""
    torch.manual_seed(0)
    base = preset("tiny") if generation == "MiniMind2" else preset("minimind-3")
    model = MiniMindForCausalLM(base.replace(vocab_size=tok.vocab_size, hidden_size=64, num_hidden_layers=1,
                                             num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                                             intermediate_size=128, max_position_embeddings=window))
    return save_checkpoint(model, folder / "full_sft_64.safetensors", tok.identity())


def start_server(*args: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "minimind_notes", "serve", "--device", "cpu", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_ready(server: subprocess.Popen, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server exited: {server.stderr.read()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the server did not answer /health in time")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The real server on a free port, with an API key, serving a tiny model (window of 1024 tokens)."""
    path = tiny_weights(tmp_path_factory.mktemp("serve"), MiniMindTokenizer.from_dir(default_tokenizer_dir()))
    port = free_port()
    process = start_server("--weights", str(path), "--port", str(port), "--api-key", KEY, "--max-tokens", "24")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, url)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=f"{server}/v1", api_key=KEY, max_retries=0, timeout=60)


def ask(client, **options):
    return client.chat.completions.create(model="full_sft_64", **{
        "messages": [{"role": "user", "content": "hello there"}], "temperature": 0,
        "extra_body": {"repetition_penalty": 1.5}, **options})  # random weights repeat one token without it


def test_models_and_health(server, client):
    assert [m.id for m in client.models.list().data] == ["full_sft_64"]
    model = client.models.list().data[0].model_extra
    assert model["context_window"] == WINDOW and model["scheduling"] == "round-robin"
    from minimind_notes.model.generation import default_sampling  # what the chat page pre-fills

    sampling = default_sampling(model["parameters"])
    assert model["default_sampling"] == {"temperature": sampling.temperature, "top_p": sampling.top_p}
    assert httpx.get(f"{server}/health").json()["status"] == "ok"  # no key needed for health


def test_streamed_text_equals_the_whole_reply_at_temperature_0(client):
    whole = ask(client, max_tokens=20)
    pieces, finish, usage = [], None, None
    for chunk in ask(client, max_tokens=20, stream=True, stream_options={"include_usage": True}):
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert whole.choices[0].message.content and "".join(pieces) == whole.choices[0].message.content
    assert finish == whole.choices[0].finish_reason
    assert usage.completion_tokens == whole.usage.completion_tokens
    assert whole.usage.total_tokens == whole.usage.prompt_tokens + whole.usage.completion_tokens
    if whole.choices[0].finish_reason == "length":
        assert whole.usage.completion_tokens == 20


def test_a_seed_repeats_a_sampled_reply(client):
    replies = {ask(client, temperature=1.0, seed=7, max_tokens=12).choices[0].message.content for _ in range(2)}
    assert len(replies) == 1


def test_a_stop_string_ends_the_reply_before_it(client):
    text = ask(client, max_tokens=24).choices[0].message.content
    stop = text[len(text) // 2:len(text) // 2 + 3]
    reply = ask(client, max_tokens=24, stop=[stop])
    assert reply.choices[0].message.content == text[:text.index(stop)]
    assert reply.choices[0].finish_reason == "stop"
    streamed = "".join(c.choices[0].delta.content or "" for c in ask(client, max_tokens=24, stop=stop, stream=True)
                       if c.choices)
    assert streamed == text[:text.index(stop)]


def test_a_prompt_longer_than_the_window_is_cut_and_usage_says_so(client):
    reply = ask(client, messages=[{"role": "user", "content": "word " * 3000}], max_tokens=8)
    assert reply.usage.prompt_tokens <= WINDOW - 8
    assert "kept the last" in reply.usage.model_extra["truncated"]


def test_eight_concurrent_streams_all_complete(client):
    finished: list[str | None] = [None] * 8

    def stream(i: int) -> None:
        for chunk in ask(client, max_tokens=10, stream=True, temperature=0.8, seed=i):
            if chunk.choices and chunk.choices[0].finish_reason:
                finished[i] = chunk.choices[0].finish_reason

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(finished), finished


def health(server: str) -> dict:
    return httpx.get(f"{server}/health").json()


@pytest.mark.parametrize("stream", [True, False])
def test_a_client_that_disconnects_stops_its_generation(server, client, stream):
    body = json.dumps({"model": "full_sft_64", "messages": [{"role": "user", "content": "hi"}], "stream": stream,
                       "max_tokens": 1000, "temperature": 0}).encode()
    cancelled = health(server)["cancelled"]
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as raw:  # a client that goes away mid-reply
        raw.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                    b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (host.encode(), KEY.encode(), len(body), body))
        deadline = time.monotonic() + 10
        while not health(server)["in_flight"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert health(server)["in_flight"] == 1
    deadline = time.monotonic() + 10
    while health(server)["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert health(server) == {**health(server), "in_flight": 0, "cancelled": cancelled + 1}
    assert ask(client, max_tokens=4).choices[0].message.content is not None  # the others go on


@pytest.mark.parametrize("body, status, param", [
    ({"model": "full_sft_64"}, 400, "messages"),
    ({"model": "full_sft_64", "messages": "hi"}, 400, "messages"),
    ({"model": "full_sft_64", "messages": [{"role": "user", "content": 3}]}, 400, "messages.0.content.str"),
    ({"model": "full_sft_64", "messages": [{"role": "robot", "content": "x"}]}, 400, "messages.0.role"),
    ({"model": "full_sft_64", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, 400, "max_tokens"),
    ({"model": "full_sft_64", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, 400,
     "temperature"),
    ({"model": "full_sft_64", "messages": [{"role": "user", "content": "x"}], "stop": ["a"] * 5}, 400, "stop"),
    ({"model": "full_sft_64", "messages": [{"role": "user", "content": "x"}], "tools": [
        {"type": "function", "function": {"name": "f"}}]}, 400, "tools"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}, 404, "model"),
])
def test_bad_requests_get_openai_error_bodies(server, body, status, param):
    reply = httpx.post(f"{server}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["param"] == param and error["message"] and "Traceback" not in reply.text


def test_the_openai_client_raises_on_bad_requests(client):
    with pytest.raises(openai.BadRequestError, match="max_tokens"):
        ask(client, max_tokens=0)
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    reply = httpx.post(f"{client.base_url}chat/completions", content=b"{not json",
                       headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    assert reply.status_code == 400 and reply.json()["error"]["message"]


def test_requests_without_the_api_key_get_401(server):
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{server}/v1", api_key="wrong", max_retries=0).models.list()
    reply = httpx.post(f"{server}/v1/chat/completions", json={})  # no key at all
    assert reply.status_code == 401 and reply.json()["error"]["code"] == "invalid_api_key"


def test_a_taken_port_is_one_message(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = start_server("--weights", "none", "--port", str(taken.getsockname()[1]))
        _, err = result.communicate(timeout=60)
    assert result.returncode == 1 and "cannot listen on 127.0.0.1" in err and "Traceback" not in err


# -- the reply splitter ---------------------------------------------------------------------------------------

def split(text: str, cut: int, **options):
    """Feed `text` in pieces of `cut` characters; the parts sent and the tool calls."""
    splitter = ReplySplitter(**{"thinking": False, "tools": False, "stop": [], **options})
    deltas = [splitter.feed(text[i:i + cut]) for i in range(0, len(text), cut)]
    last, calls = splitter.finish()
    deltas.append(last)
    return "".join(d.reasoning for d in deltas), "".join(d.content for d in deltas), calls, splitter.stopped


@pytest.mark.parametrize("cut", [1, 2, 3, 7, 1000])
def test_the_splitter_gives_the_same_parts_however_the_text_is_cut(cut):
    reply = ('let me see\n</think>\n\nIt is <b>sunny</b>.\n'
             '<tool_call>\n{"name": "weather", "arguments": {"city": "北京"}}\n</tool_call>')
    reasoning, content, calls, _ = split(reply, cut, thinking=True, tools=True)
    assert reasoning == "let me see" and content == "It is <b>sunny</b>.\n"
    assert [c["function"] for c in calls] == [{"name": "weather", "arguments": '{"city": "北京"}'}]
    assert split("a STOP b", cut, stop=["STOP"])[1:] == ("a ", None, True)
    assert split("a STO", cut, stop=["STOP"])[1] == "a STO"  # a stop string's start alone is text


def test_text_that_is_no_tool_call_stays_content():
    assert parse_tool_calls("<tool_call>{not json}</tool_call>") is None
    _, content, calls, _ = split("ok <tool_call>{broken", 4, tools=True)
    assert content == "ok <tool_call>{broken" and calls is None


# -- minimind-3: tools and thinking (in-process) -----------------------------------------------------------------

def test_minimind3_takes_tools_and_thinking_per_request(tmp_path):
    from fastapi.testclient import TestClient

    from minimind_notes.chat import load_for_inference
    from minimind_notes.data.tokenizer import train_tokenizer
    from minimind_notes.serve.app import create_app
    from minimind_notes.serve.engine import Engine

    words = ["".join(chr(97 + (i * 7 + j) % 26) for j in range(2 + i % 5)) for i in range(200)]
    tok = train_tokenizer([" ".join(words[i:] + words[:i]) for i in range(100)], tmp_path / "tok", 360,
                          specials="minimind-3")
    path = tiny_weights(tmp_path, tok, "minimind-3", window=1024)
    model, tok, path = load_for_inference(str(path), str(tmp_path / "tok"))
    tools = [{"type": "function", "function": {"name": "weather", "description": "today's weather",
                                               "parameters": {"type": "object"}}}]
    with TestClient(create_app(Engine(model, tok, path), "m3", max_tokens=6)) as web:
        for thinking in (True, False):
            reply = web.post("/v1/chat/completions", json={
                "model": "m3", "messages": [{"role": "user", "content": "weather?"}], "tools": tools,
                "chat_template_kwargs": {"enable_thinking": thinking}, "temperature": 0})
            assert reply.status_code == 200, reply.text
            message = reply.json()["choices"][0]["message"]
            assert ("reasoning_content" in message) == thinking
        earlier = [{"role": "user", "content": "hi"},
                   {"role": "assistant", "content": None, "tool_calls": [
                       {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]},
                   {"role": "tool", "content": json.dumps({"sky": "clear"})}]
        reply = web.post("/v1/chat/completions", json={"model": "m3", "messages": earlier, "tools": tools})
        assert reply.status_code == 200, reply.text
        assert reply.json()["usage"]["prompt_tokens"] > 40
        long = [{"role": "user", "content": "abc " * 3000}]
        reply = web.post("/v1/chat/completions", json={"model": "m3", "messages": long, "max_tokens": 4})
        usage = reply.json()["usage"]
        assert usage["prompt_tokens"] <= 1024 - 4 and "kept the last" in usage["truncated"]


# -- the chat page in a real browser, the warning for open addresses -----------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium); the page test "
                                             "never downloads a browser")
def test_the_chat_page_streams_a_reply_in_a_real_browser(server, tmp_path):
    """...and saves a screenshot (in $MINIMIND_SCREENSHOT_DIR when set, for CI to keep)."""
    shot = Path(os.environ.get("MINIMIND_SCREENSHOT_DIR") or tmp_path) / "chat-page.png"
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (no browser download)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page()
        outside = []
        page.on("request", lambda r: None if r.url.startswith(server) else outside.append(r.url))
        page.goto(server)
        page.fill("#key", KEY)
        page.dispatch_event("#key", "change")
        page.wait_for_selector("#model:has-text('full_sft_64')")
        page.fill("#max_tokens", "12")
        page.fill("#prompt", "hello there")
        page.click("#send")
        page.wait_for_selector(".assistant .meta:has-text('tokens/s')", timeout=30000)
        reply = page.inner_text(".assistant span")
        page.screenshot(path=str(shot))
        browser.close()
    assert reply.strip() and not outside
    assert shot.stat().st_size > 1000


@pytest.mark.slow
def test_an_open_address_without_a_key_is_warned_about(tmp_path):
    path = tiny_weights(tmp_path, MiniMindTokenizer.from_dir(default_tokenizer_dir()))
    process = start_server("--weights", str(path), "--host", "0.0.0.0", "--port", str(free_port()))
    try:
        line = process.stderr.readline()
        while line and "Warning" not in line:
            line = process.stderr.readline()
        assert "without --api-key" in line
    finally:
        process.terminate()
        process.wait(10)
