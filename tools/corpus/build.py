"""Write the whole sample corpus: `build_sample(out_dir, seed)` -> {file name: rows}.

Byte-for-byte deterministic: every generator has its own `random.Random` stream named after it,
rows are deduplicated in first-seen order, then split into train and a disjoint `_val` file
(~5%, or VAL_ROWS rows).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from minimind_notes.data.jsonl import write_jsonl
from tools.corpus import arithmetic, conversations, exam, preferences, pretrain
from tools.corpus.context import Ctx
from tools.corpus.facts import world_facts
from tools.corpus.world import build_world

VAL_FRACTION = 0.05
PRETRAIN_BYTES = 3_500_000  # train + val; the train file alone stays above 3.2 MB
SFT_ROWS, DPO_ROWS, IDENTITY_ROWS, RL_ROWS = 2_600, 800, 180, 1_400
# Larger held-out sets where the closing number is an accuracy: with 33 pairs one pair is 3 points,
# and a DPO or GRPO gain of a few points was lost in that noise.
VAL_ROWS = {"dpo": 160, "rl_arithmetic": 200}


def stream(seed: int, name: str) -> random.Random:
    """An independent, reproducible random stream per generator (str seeds hash with SHA-512)."""
    return random.Random(f"minimind-notes/{name}/{seed}")


def split(rows: list[dict], rng: random.Random, n_val: int | None = None) -> tuple[list[dict], list[dict]]:
    """Drop duplicate rows, shuffle, and hold out n_val rows (default ~5%) as validation."""
    unique = list({json.dumps(r, ensure_ascii=False): r for r in rows}.values())
    rng.shuffle(unique)
    n_val = n_val or max(1, round(len(unique) * VAL_FRACTION))
    return unique[n_val:], unique[:n_val]


def build_sample(out_dir: Path, seed: int = 1234) -> dict[str, int]:
    """Generate every sample file into out_dir; return {file name: number of rows}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    world = build_world(seed)
    facts_en, facts_zh = world_facts(world, "en"), world_facts(world, "zh")

    exam_rows, reserved = exam.exam_rows(Ctx(stream(seed, "exam"), world), facts_en, facts_zh)

    def ctx(name: str) -> Ctx:
        return Ctx(stream(seed, name), world, reserved)

    rl = {}
    for row in arithmetic.rl_rows(stream(seed, "rl"), world, RL_ROWS, reserved):
        rl.setdefault(row["prompt"], row)  # one row per prompt, so no prompt is in both splits
    sft = conversations.sft_rows(ctx("sft"), SFT_ROWS, facts_en, facts_zh)
    _check_held_out(exam_rows, sft)
    datasets = {
        "pretrain": pretrain.documents(ctx("pretrain"), PRETRAIN_BYTES),
        "sft": sft,
        "dpo": preferences.dpo_rows(ctx("dpo"), DPO_ROWS, facts_en, facts_zh),
        "lora_identity": conversations.identity_rows(ctx("identity"), IDENTITY_ROWS),
        "rl_arithmetic": list(rl.values()),
    }
    counts = {}
    for name, rows in datasets.items():
        train, val = split(rows, stream(seed, f"split/{name}"), VAL_ROWS.get(name))
        for file, part in ((f"{name}.jsonl", train), (f"{name}_val.jsonl", val)):
            write_jsonl(out_dir / file, part)
            counts[file] = len(part)
    write_jsonl(out_dir / "eval_mc.jsonl", exam_rows)
    counts["eval_mc.jsonl"] = len(exam_rows)
    return counts


def _check_held_out(exam_rows: list[dict], sft: list[dict]) -> None:
    text = "\n".join(m["content"] for row in sft for m in row["conversations"])
    leaked = [r["question"] for r in exam_rows if r["question"] in text]
    if leaked:
        raise RuntimeError(f"exam questions found in SFT data: {leaked[:3]}")
