"""The training loop's cost over the bare model step: same model, batch and optimizer;
the loop adds data sampling, LR schedule, clipping, logging and the NaN check."""

from __future__ import annotations

import time

from minimind_notes.device import autocast, synchronize


def bench_train(preset: str, batch: int, seq_len: int, steps: int, device: str, save_dir: str) -> tuple[float, float]:
    """(loop tokens/s, bare step tokens/s), medians over `steps` steps after 2 warm-up steps."""
    from minimind_notes.train.config import TrainConfig
    from minimind_notes.train.loop import Trainer

    cfg = TrainConfig(stage="pretrain", preset=preset, batch_size=batch, max_seq_len=seq_len,
                      max_steps=steps + 2, eval_every=0, save_every=0, log_every=10**9, device=device,
                      save_dir=save_dir, from_weight="none")
    trainer = Trainer(cfg, echo=lambda *a: None)

    def median(fn) -> float:
        times = []
        for i in range(steps + 2):
            synchronize(trainer.device)
            start = time.perf_counter()
            fn()
            synchronize(trainer.device)
            if i >= 2:
                times.append(time.perf_counter() - start)
        return sorted(times)[len(times) // 2]

    loop_s = median(trainer.train_step)
    model, opt = trainer.model, trainer.optimizer
    ids = trainer.objective.next_batch()[0].to(trainer.device)

    def bare() -> None:
        with autocast(trainer.device, trainer.amp):
            loss = model(ids, labels=ids, fused_loss=True).loss  # the trainer's step
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    bare_s = median(bare)
    tokens = batch * (seq_len + 1)
    return tokens / loop_s, tokens / bare_s
