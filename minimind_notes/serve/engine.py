"""The model behind the server: one thread generates for every request, a token for each in turn.

Round-robin, not batched: with N requests in flight each reply advances at 1/N of the model's speed, none
waits for another to finish, and the total tokens/s stay what one stream gets. A request whose client
has gone is dropped at its next turn, so the others speed up at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import torch
from torch import nn

from minimind_notes.chat import reply_pieces
from minimind_notes.data.tokenizer import MiniMindTokenizer
from minimind_notes.model import SamplingConfig

FINISHED = object()  # a job's last event


class Job:
    """One request's generation: events from the engine's thread, read on the server's event loop."""

    def __init__(self, pieces: Iterator[tuple[int, str]], loop: asyncio.AbstractEventLoop) -> None:
        self.pieces, self.loop = pieces, loop
        self.events: asyncio.Queue = asyncio.Queue()
        self.cancelled = False

    def put(self, event: object) -> None:
        """From the engine's thread: hand an event to the event loop (gone at shutdown: nobody to tell)."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.events.put_nowait, event)

    def cancel(self) -> None:
        self.cancelled = True

    async def __aiter__(self) -> AsyncIterator[tuple[int, str]]:
        """(tokens so far, new text) until the reply ends; an error in generation is raised here."""
        while (event := await self.events.get()) is not FINISHED:
            if isinstance(event, BaseException):
                raise event
            yield event


class Engine:
    """The loaded model and the thread that runs every request's generation in turn."""

    def __init__(self, model: nn.Module, tok: MiniMindTokenizer, path: Path) -> None:
        self.model, self.tok, self.path = model, tok, path
        self.window: int = model.config.max_position_embeddings
        self.device = next(model.parameters()).device
        self.jobs: deque[Job] = deque()  # waiting for their next turn
        self.in_flight = 0  # requests generating (the one on its turn included)
        self.cancelled = 0  # requests stopped before their end: their client left, or a stop string came
        self.wake = threading.Condition()
        threading.Thread(target=self.run, name="minimind-generate", daemon=True).start()

    def submit(self, prompt_ids: Sequence[int], cfg: SamplingConfig, seed: int | None,
               keep_markers: bool) -> Job:
        """Queue a generation (on the running event loop); `keep_markers`: decode <think>, <tool_call> and the
        like as text, for the reply to be split by them."""
        generator = torch.Generator(device=self.device)
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed)
        pieces = reply_pieces(self.model, self.tok, prompt_ids, cfg, generator, skip_special_tokens=not keep_markers)
        job = Job(pieces, asyncio.get_running_loop())
        with self.wake:
            self.jobs.append(job)
            self.in_flight += 1
            self.wake.notify()
        return job

    def run(self) -> None:
        while True:
            with self.wake:
                while not self.jobs:
                    self.wake.wait()
                job = self.jobs.popleft()
            try:
                if job.cancelled:
                    job.pieces.close()  # frees its KV cache
                    self.cancelled += 1
                    raise StopIteration
                job.put(next(job.pieces))
            except StopIteration:
                self.done(job, FINISHED)
            except Exception as e:  # that request fails with it; the others go on
                self.done(job, e)
            else:
                with self.wake:
                    self.jobs.append(job)

    def done(self, job: Job, last: object) -> None:
        with self.wake:
            self.in_flight -= 1
        job.put(last)
