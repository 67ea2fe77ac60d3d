"""How often the README's and the mastery path's demonstrations hold with `minimind chat`'s sampling.

Run from the clone after the README's chain (`minimind train pretrain`, `train sft`, `train lora`):

    python -m tools.demo_rates                     # the sampling chat uses by default, 5 seeds per prompt
    python -m tools.demo_rates --temperature 0     # greedy, for comparison
    python -m tools.demo_rates --temperature 0.85 --top-p 0.85 --json
    python -m tools.demo_rates --grid 0.85:0.85,0.7:0.7,0.5:0.5,0:1   # one rate per temperature:top-p

Each demonstration is a prompt to one model, answered as `minimind chat --seed S` answers it (the same
template, window and generator), and a rule in code that says whether the reply is acceptable:
`acceptable` below. The rate is the share of (prompt, seed) replies that pass it.
"""

from __future__ import annotations

import argparse
import json
import re
import unicodedata
from dataclasses import dataclass

# The demonstrations: README's "The pipeline" and the mastery path's train steps, in English and Chinese.
# weights, lora, prompt, language of the prompt, what the reply must say (None: only a clean reply in that language)
DEMOS = [
    ("pretrain", None, "Mia walked to the river", "en", None),
    ("pretrain", None, "Once upon a time", "en", None),
    ("pretrain", None, "从前有一只小猫", "zh", None),
    ("full_sft", None, "Can you tell me a story?", "en", None),
    ("full_sft", None, "给我讲一个小故事。", "zh", None),
    # a fact the pretraining text states and no SFT row asks: does SFT turn it into an answer?
    ("full_sft", None, "Where does a tailor work?", "en", "tailor shop"),
    ("full_sft", None, "裁缝在哪里工作?", "zh", "裁缝店"),
    ("full_sft", "lora", "Who are you?", "en", "MiniMind"),
    ("full_sft", "lora", "who are you?", "en", "MiniMind"),
    ("full_sft", "lora", "你是谁?", "zh", "MiniMind"),
]
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
LATIN_WORD = re.compile(r"[A-Za-z]+")
NAMES = re.compile(r"minimind(-notes)?", re.IGNORECASE)  # the identity set's names are Latin in both languages


@dataclass
class Verdict:
    ok: bool
    why: str


def acceptable(reply: str, lang: str, must_say: str | None, closed: bool | None) -> Verdict:
    """A reply a learner would accept: readable (no broken UTF-8), in the prompt's language (English: no Chinese
    characters; Chinese: at least 4 Chinese characters and no more Latin words than the names), closed with
    <|im_end|> when it is a chat reply (closed is None for text continuation), and saying `must_say`."""
    text = reply.strip()
    if not text:
        return Verdict(False, "empty")
    if "\ufffd" in text or any(unicodedata.category(c) == "Co" for c in text):
        return Verdict(False, "broken characters")
    if lang == "en" and CJK.search(text):
        return Verdict(False, "Chinese in an English reply")
    if lang == "zh":
        words = LATIN_WORD.findall(NAMES.sub(" ", text))
        if len(CJK.findall(text)) < 4 or words:
            return Verdict(False, "not Chinese")
    if closed is False:
        return Verdict(False, "never closed its turn")
    if must_say and must_say.lower() not in text.lower():
        return Verdict(False, f"no {must_say!r}")
    return Verdict(True, "ok")


def measure(save_dir: str, seeds: int, temperature: float | None, top_p: float | None,
            max_new_tokens: int) -> dict:
    import torch

    from minimind_notes.chat import fit_chat, fit_text, is_chat_model, load_for_inference, prompt_budget, stream_reply
    from minimind_notes.model import SamplingConfig
    from minimind_notes.model.generation import default_sampling

    rows, models = [], {}
    for weights, lora, prompt, lang, must_say in DEMOS:
        if (weights, lora) not in models:
            models[weights, lora] = load_for_inference(weights, None, lora, "cpu", save_dir)
        model, tok, path = models[weights, lora]
        chat = is_chat_model(path)
        params = sum(p.numel() for p in model.parameters())
        base = default_sampling(params)
        cfg = SamplingConfig(max_new_tokens=max_new_tokens, eos_token_id=tok.eos_token_id,
                             temperature=base.temperature if temperature is None else temperature,
                             top_p=base.top_p if top_p is None else top_p)
        budget = prompt_budget(model.config.max_position_embeddings, max_new_tokens)
        fitted = fit_chat(tok, [{"role": "user", "content": prompt}], budget) if chat else fit_text(tok, prompt, budget)
        ids = fitted.ids
        for seed in range(seeds if cfg.temperature > 0 else 1):  # greedy gives one reply whatever the seed
            generator = torch.Generator().manual_seed(seed)  # as `minimind chat --seed SEED`
            reply = stream_reply(model, tok, ids, cfg, generator=generator)
            closed = reply.tokens < max_new_tokens if chat else None
            verdict = acceptable(reply.text, lang, must_say, closed)
            rows.append({"weights": weights, "lora": lora, "prompt": prompt, "seed": seed, "ok": verdict.ok,
                         "why": verdict.why, "reply": reply.text, "temperature": cfg.temperature, "top_p": cfg.top_p})
    return {"rate": sum(r["ok"] for r in rows) / len(rows), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--save-dir", default="out", help="where the chain wrote its weights (default out)")
    parser.add_argument("--seeds", type=int, default=5, help="sampling seeds per prompt (default 5)")
    parser.add_argument("--temperature", type=float, default=None, help="default: chat's default for the model")
    parser.add_argument("--top-p", type=float, default=None, help="default: chat's default for the model")
    parser.add_argument("--max-new-tokens", type=int, default=256, help="as chat (default 256)")
    parser.add_argument("--json", action="store_true", help="every reply and verdict as JSON")
    parser.add_argument("--grid", default=None, help="TEMPERATURE:TOP_P pairs, comma-separated: one rate each")
    args = parser.parse_args()
    if args.grid:
        pairs = [tuple(float(v) for v in pair.split(":")) for pair in args.grid.split(",")]
        rates = {f"{t:g}:{p:g}": measure(args.save_dir, args.seeds, t, p, args.max_new_tokens) for t, p in pairs}
        if args.json:
            print(json.dumps(rates, ensure_ascii=False, indent=2))
            return
        for pair, result in rates.items():
            by_model: dict[str, list] = {}
            for r in result["rows"]:
                by_model.setdefault(r["weights"] + (f" + {r['lora']}" if r["lora"] else ""), []).append(r["ok"])
            print(f"temperature:top-p {pair:10} acceptable {result['rate']:.0%}  "
                  + "  ".join(f"{model} {sum(oks)}/{len(oks)}" for model, oks in by_model.items()))
        return
    result = measure(args.save_dir, args.seeds, args.temperature, args.top_p, args.max_new_tokens)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    by_demo: dict[tuple, list] = {}
    for r in result["rows"]:
        by_demo.setdefault((r["weights"], r["lora"], r["prompt"]), []).append(r)
    for (weights, lora, prompt), rs in by_demo.items():
        model = weights + (f" + {lora}" if lora else "")
        print(f"{sum(r['ok'] for r in rs)}/{len(rs)}  {model:16} {prompt!r} (temperature {rs[0]['temperature']}, "
              f"top-p {rs[0]['top_p']})")
        for r in rs:
            print(f"      seed {r['seed']}: {'ok ' if r['ok'] else r['why']:<28} {r['reply'][:90]!r}")
    print(f"acceptable: {result['rate']:.0%} of {len(result['rows'])} replies")


if __name__ == "__main__":
    main()
