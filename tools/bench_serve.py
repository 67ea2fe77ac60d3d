"""Tokens/s of `minimind serve` with 1 and with 4 concurrent streams, next to `minimind chat` on the same weights.

    python -m tools.bench_serve WEIGHTS [--tokens 128] [--rounds 3] [--device cpu]

Starts the real server on a free port and, in each round, runs `minimind chat`, then 1 and 4 concurrent
streams of `--tokens` tokens each through the openai client (interleaved, so that a busy machine slows all
three alike). Prints one JSON line per round and one with the medians: the total tokens/s of all streams
and each stream's own.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import statistics
import subprocess
import sys
import threading
import time

import httpx
import openai

PROMPT = "Tell me a story about a river."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chat_tokens_per_s(weights: str, tokens: int, device: str) -> float:
    out = subprocess.run([sys.executable, "-m", "minimind_notes", "chat", "--weights", weights, "--prompt", PROMPT,
                          "--max-new-tokens", str(tokens), "--device", device], capture_output=True, text=True,
                         check=True).stdout
    return float(re.search(r"([\d.]+) tokens/s", out).group(1))


def streams(client: openai.OpenAI, model: str, n: int, tokens: int) -> dict[str, float]:
    counts, seconds = [0] * n, [0.0] * n

    def one(i: int) -> None:
        start = time.perf_counter()
        for chunk in client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": PROMPT}], max_tokens=tokens, stream=True,
                seed=i, stream_options={"include_usage": True}):
            if chunk.usage:
                counts[i] = chunk.usage.completion_tokens
        seconds[i] = time.perf_counter() - start

    start = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    return {"streams": n, "total_tokens_per_s": round(sum(counts) / wall, 1),
            "per_stream_tokens_per_s": [round(c / s, 1) for c, s in zip(counts, seconds, strict=True)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "minimind_notes", "serve", "--weights", args.weights,
                               "--port", str(port), "--device", args.device], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    rounds = []
    try:
        for _ in range(600):
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="none", timeout=600)
        model = client.models.list().data[0].id
        streams(client, model, 1, 8)  # warm-up
        for _ in range(args.rounds):
            rounds.append({"chat": chat_tokens_per_s(args.weights, args.tokens, args.device),
                           "serve_1": streams(client, model, 1, args.tokens)["total_tokens_per_s"],
                           **{f"serve_4_{key}": value for key, value in streams(client, model, 4, args.tokens).items()
                              if key != "streams"}})
            print(json.dumps(rounds[-1]))
    finally:
        server.terminate()
        server.wait(10)
    medians = {key: statistics.median(r[key] for r in rounds)
               for key in ("chat", "serve_1", "serve_4_total_tokens_per_s")}
    print(json.dumps({"weights": args.weights, "tokens": args.tokens, "median": medians}))


if __name__ == "__main__":
    main()
