"""Write an SFT file in MiniMind's sft_t2t format (or DPO pairs in its dpo format) of a given size, built from
the embedded data, to benchmark preparation at real sizes (`minimind bench data --stage sft --data FILE`).
Not committed output: the file goes where you say.

    python -m tools.make_sft_file /tmp/sft_1g.jsonl --size 1GB
    python -m tools.make_sft_file /tmp/dpo_100m.jsonl --size 100MB --dpo

Rows look like MiniMind's: {"conversations": [{"role": "user", "content": ...}, {"role": "assistant", ...}]}
(one to three turns, a system message in one row of eight), replies of 100 to 1,500 characters made of the
embedded replies and pretraining texts, so a row averages about 1 KB as in sft_t2t_mini; every row differs.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

from minimind_notes.content import data_dir
from minimind_notes.data.jsonl import read_jsonl
from minimind_notes.fileio import atomic_path

UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9}


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMG]?B?)\s*", text.upper())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is no size (e.g. 100MB, 1GB)")
    return int(float(match.group(1)) * UNITS[match.group(2)])


def reply(rng: random.Random, answers: list[str], texts: list[str]) -> str:
    """An embedded reply, lengthened with pretraining text to 100-1,500 characters."""
    out, target = rng.choice(answers), rng.randint(100, 1500)
    while len(out) < target:
        out += "\n" + rng.choice(texts)
    return out[:target]


def conversation(rng: random.Random, n: int, prompts: list[str], answers: list[str], texts: list[str]) -> list:
    messages = [{"role": "system", "content": "You are MiniMind, a helpful assistant."}] if n % 8 == 0 else []
    for turn in range(rng.choice((1, 1, 2, 3))):
        messages.append({"role": "user", "content": f"{rng.choice(prompts)} ({n}.{turn})"})
        messages.append({"role": "assistant", "content": reply(rng, answers, texts)})
    return messages


def write(out: Path, size: int, dpo: bool, seed: int = 0) -> int:
    """Rows written; the file ends at the first row past `size` bytes."""
    rng = random.Random(seed)
    convs = [row["conversations"] for row in read_jsonl(data_dir() / "sft.jsonl")]
    prompts = [m["content"] for c in convs for m in c if m["role"] == "user"]
    answers = [m["content"] for c in convs for m in c if m["role"] == "assistant"]
    texts = [row["text"] for row in read_jsonl(data_dir() / "pretrain.jsonl")]
    written = rows = 0
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as f:
        while written < size:
            chosen = conversation(rng, rows, prompts, answers, texts)
            if dpo:
                rejected = [*chosen[:-1], {"role": "assistant", "content": reply(rng, answers, texts)}]
                row = {"chosen": chosen, "rejected": rejected}
            else:
                row = {"conversations": chosen}
            line = json.dumps(row, ensure_ascii=False) + "\n"
            f.write(line)
            written += len(line.encode())
            rows += 1
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=parse_size, default=parse_size("100MB"), help="e.g. 100MB, 1GB")
    parser.add_argument("--dpo", action="store_true", help="chosen/rejected pairs (MiniMind's dpo.jsonl format)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = write(args.out, args.size, args.dpo, args.seed)
    print(f"{args.out}: {rows:,} rows, {args.out.stat().st_size / 1e6:,.1f} MB")


if __name__ == "__main__":
    main()
