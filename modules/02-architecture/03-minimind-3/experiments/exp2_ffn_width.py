"""minimind-3 exp2: the FFN width rule and where the parameters go.

MiniMind2 sizes its SwiGLU at 8/3 of the hidden size (64 * ceil(int(8h/3) / 64)); minimind-3 at pi
times it (64 * ceil(h * pi / 64)). Both rules are read off built models: the width is the shape of
`gate_proj`, the budget is what `parameters()` counts, split by module (attention, FFN, norms, QK-norm,
embedding). Compared at real sizes: MiniMind2 (768, 16 layers), minimind-3 (768, 8 layers), and
minimind-3 rebuilt with MiniMind2's rule, so that the width rule is the only difference. All models
are built on the meta device: shapes and counts, no memory, no time.
"""

from __future__ import annotations

import math

import torch

from minimind_notes.lab.experiment import ExperimentContext, main
from minimind_notes.lab.moe import active_parameters
from minimind_notes.model import MiniMindForCausalLM, preset
from minimind_notes.model.config import MiniMindConfig

WIDTHS = [512, 640, 768, 1024]  # hidden sizes MiniMind uses (and one above)
MODELS = {"MiniMind2": ("minimind2", {}),
          "minimind-3, 8/3 rule": ("minimind-3", {"intermediate_size_rule": "8/3"}),
          "minimind-3": ("minimind-3", {}),
          "minimind-3-moe": ("minimind-3-moe", {})}
PARTS = ["attention", "QK-norm", "FFN", "RMSNorms", "embedding"]  # embedding: the matrix lm_head shares


def build(config: MiniMindConfig) -> MiniMindForCausalLM:
    with torch.device("meta"):  # shapes only
        return MiniMindForCausalLM(config)


def budget(model: MiniMindForCausalLM) -> dict[str, int]:
    """Parameters by part, read off the module tree (every parameter lands in exactly one part)."""
    parts = dict.fromkeys(PARTS, 0)
    for name, p in model.named_parameters():  # the tied matrix appears once, as model.embed_tokens.weight
        if "q_norm" in name or "k_norm" in name:
            part = "QK-norm"
        elif ".self_attn." in name:
            part = "attention"  # q, k, v, o projections
        elif ".mlp." in name:
            part = "FFN"
        elif "embed_tokens" in name or "lm_head" in name:
            part = "embedding"
        else:
            part = "RMSNorms"
        parts[part] += p.numel()
    return parts


def run(ctx: ExperimentContext) -> None:
    rows, widths = [], {}
    for h in WIDTHS:
        sizes = {rule: build(MiniMindConfig(hidden_size=h, num_hidden_layers=1, intermediate_size_rule=rule))
                 .model.layers[0].mlp.gate_proj.weight.shape[0] for rule in ("8/3", "pi")}
        widths[h] = sizes
        rows.append([h, sizes["8/3"], f"{sizes['8/3'] / h:.3f}", sizes["pi"], f"{sizes['pi'] / h:.3f}",
                     f"{sizes['pi'] / sizes['8/3']:.3f}"])
    ctx.metric("intermediate_sizes", widths)
    ctx.table({"en": "SwiGLU width (gate_proj's rows) of built models, by hidden size",
               "zh": "按 hidden 大小:构建出的模型中 SwiGLU 的宽度(gate_proj 的行数)"},
              ["hidden", "8/3 rule (MiniMind2)", "x hidden", "pi rule (minimind-3)", "x hidden", "pi / 8/3"], rows)

    budgets, totals, configs = {}, {}, {}
    for label, (name, changes) in MODELS.items():
        config = preset(name, **changes)
        model = build(config)
        budgets[label], totals[label], configs[label] = budget(model), model.num_parameters(), config
        if config.use_moe:
            totals[label + " (active per token)"] = active_parameters(model)
    ctx.metric("budgets", budgets)
    ctx.metric("totals", totals)
    ctx.table({"en": "Parameters by part, counted on the built models",
               "zh": "按部分统计的参数量(在构建出的模型上计数)"},
              ["model", "layers", "FFN width", *PARTS, "total", "FFN / blocks"],
              [[label, c.num_hidden_layers, c.intermediate_size, *budgets[label].values(), totals[label],
                f"{ffn_share(budgets[label]):.1%}"] for label, c in configs.items()])
    findings(ctx, widths, budgets, totals, configs)
    plot(ctx, budgets)


def ffn_share(parts: dict[str, int]) -> float:
    """The FFN's share of the blocks' parameters (the embedding left out: it is the same matrix for any depth)."""
    blocks = sum(v for k, v in parts.items() if k != "embedding")
    return parts["FFN"] / blocks


def findings(ctx: ExperimentContext, widths: dict, budgets: dict, totals: dict, configs: dict) -> None:
    h = 768
    pi_w, old_w = widths[h]["pi"], widths[h]["8/3"]
    ctx.code_fact(
        "At hidden {h}, minimind-3's built gate_proj has {pi} rows, the multiple of 64 at or above {h} x pi = "
        "{raw:.1f}; MiniMind2's rule gives {old} (8/3 x {h} = {raw2:.0f}) (by construction: both are 64 x "
        "ceil(x / 64) of their raw width)",
        "hidden {h} 时,minimind-3 构建出的 gate_proj 有 {pi} 行,即不小于 {h} x pi = {raw:.1f} 的 64 的倍数;"
        "MiniMind2 的规则给出 {old}(8/3 x {h} = {raw2:.0f})(按构造:两者都是各自原始宽度的 64 x ceil(x / 64))",
        pi_w == 64 * math.ceil(h * math.pi / 64) and old_w == 64 * math.ceil(int(h * 8 / 3) / 64),
        h=h, pi=pi_w, raw=h * math.pi, old=old_w, raw2=h * 8 / 3)
    classic = 2 * h * 4 * h  # a 2017 FFN: up to 4h and back, two matrices
    ctx.code_fact(
        "Per layer the SwiGLU holds 3 x {h} x width: {old:,} with the 8/3 rule, the same as a classic 4h two-matrix "
        "FFN ({classic:,}), and {pi:,} with pi, {r:.2f}x that (arithmetic: 3 x 8/3 = 8 = 2 x 4, "
        "and pi / (8/3) = 1.18, up to the rounding to 64)",
        "每层 SwiGLU 有 3 x {h} x 宽度 个参数:8/3 规则为 {old:,},与经典的 4h 两矩阵 FFN({classic:,})相同;"
        "pi 规则为 {pi:,},是它的 {r:.2f} 倍(算术:3 x 8/3 = 8 = 2 x 4,pi / (8/3) = 1.18,只差取整到 64 的部分)",
        abs(3 * h * old_w / classic - 1) < 0.03 and 3 * h * pi_w / classic > 1.15,
        h=h, old=3 * h * old_w, pi=3 * h * pi_w, classic=classic, r=pi_w / old_w)
    m2, m3, m3old = budgets["MiniMind2"], budgets["minimind-3"], budgets["minimind-3, 8/3 rule"]
    parts_ok = all(sum(budgets[k].values()) == totals[k] for k in budgets)
    ctx.code_fact(
        "minimind-3 has {t3:,} parameters (MiniMind2: {t2:,}); its blocks are {s3:.1%} FFN against {s2:.1%} in "
        "MiniMind2 and {sold:.1%} with the 8/3 rule at the same shape: the pi rule alone adds {extra:,} parameters "
        "({ep:.1%} of the model) (by construction: the parts add up to each model's own count, and a wider FFN "
        "has a larger share)",
        "minimind-3 有 {t3:,} 个参数(MiniMind2:{t2:,});它的块中 FFN 占 {s3:.1%},MiniMind2 为 {s2:.1%},"
        "同样结构换成 8/3 规则为 {sold:.1%}:单是 pi 规则就多了 {extra:,} 个参数(占模型的 {ep:.1%})"
        "(按构造:各部分加起来等于每个模型自己的计数,FFN 更宽占比就更大)",
        parts_ok and ffn_share(m3) > ffn_share(m3old), t3=totals["minimind-3"], t2=totals["MiniMind2"],
        s3=ffn_share(m3), s2=ffn_share(m2), sold=ffn_share(m3old),
        extra=totals["minimind-3"] - totals["minimind-3, 8/3 rule"],
        ep=(totals["minimind-3"] - totals["minimind-3, 8/3 rule"]) / totals["minimind-3"])
    c3 = configs["minimind-3"]
    qk, attn = m3["QK-norm"], m3["attention"]
    ctx.code_fact(
        "QK-norm costs {qk:,} parameters in all ({per} per layer: two gains of head_dim {hd}), {qp:.4%} of the model; "
        "attention itself holds {attn:,} ({ap:.1%}) with {kv} KV heads (by construction: QK-norm = layers x 2 x "
        "head_dim)",
        "QK-norm 一共只有 {qk:,} 个参数(每层 {per} 个:两个长度为 head_dim {hd} 的增益),占模型的 {qp:.4%};"
        "注意力本身有 {attn:,} 个({ap:.1%}),{kv} 个 KV 头(按构造:QK-norm = 层数 x 2 x head_dim)",
        qk == c3.num_hidden_layers * 2 * c3.head_dim, qk=qk, per=qk // c3.num_hidden_layers, hd=c3.head_dim,
        qp=qk / totals["minimind-3"], attn=attn, ap=attn / totals["minimind-3"], kv=c3.num_key_value_heads)
    moe, active = totals["minimind-3-moe"], totals["minimind-3-moe (active per token)"]
    cm = configs["minimind-3-moe"]
    ctx.code_fact(
        "minimind-3-moe: {t:,} parameters, of which a token uses {a:,} ({ap:.1%}): {k} of {e} experts of width {w} "
        "per layer, no shared expert (by construction: total minus active = layers x {idle} idle experts x 3 x {h} x "
        "{w})",
        "minimind-3-moe:{t:,} 个参数,每个 token 用到 {a:,} 个({ap:.1%}):每层 {e} 个宽度 {w} 的专家中选 {k} 个,"
        "没有共享专家(按构造:总数减去激活数 = 层数 x {idle} 个闲置专家 x 3 x {h} x {w})",
        moe - active == cm.num_hidden_layers * (cm.n_routed_experts - cm.num_experts_per_tok) * 3 * cm.hidden_size
        * cm.intermediate_size, t=moe, a=active, ap=active / moe, k=cm.num_experts_per_tok, e=cm.n_routed_experts,
        w=cm.intermediate_size, idle=cm.n_routed_experts - cm.num_experts_per_tok, h=cm.hidden_size)


def plot(ctx: ExperimentContext, budgets: dict) -> None:
    plt = ctx.plt
    fig, ax = plt.subplots(figsize=(9, 3.8))
    labels = list(budgets)
    left = [0.0] * len(labels)
    for part, color in zip(PARTS, ["tab:blue", "tab:purple", "tab:orange", "grey", "tab:green"], strict=True):
        values = [budgets[m][part] / 1e6 for m in labels]
        ax.barh(labels, values, left=left, color=color, label=part)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlabel("parameters (millions)")
    ax.invert_yaxis()
    ax.legend(fontsize=8, loc="center right")
    ax.set_title("Where the parameters are: MiniMind2 vs minimind-3")
    ctx.savefig(fig, "parameter_budget.png")


if __name__ == "__main__":
    main(__file__)
