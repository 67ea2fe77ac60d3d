"""Weight-only quantization of nn.Linear, from scratch: store small integers and a few scales,
rebuild the float weight in forward.

Symmetric absmax quantization of a group of weights w: scale s = max|w| / qmax, codes
q = round(w / s), clamped to [-qmax, qmax]; the group is stored as q (integers) and s (float32)
and used as q * s. Rounding to the nearest code means |w - q * s| <= s / 2 for every weight.

- INT8, per output channel: qmax = 127, one scale per row of W (out, in), i.e. per output
  feature. Codes are stored one per byte as int8.
- INT4, group-wise: qmax = 7, one scale per `group_size` consecutive weights of a row (along the
  input dimension). Codes lie in [-7, 7] (symmetric: -8 is left unused, so that 0 is exact and
  the range is the same on both sides) and are stored packed, two per byte, in a uint8 as
  code + 8 (low nibble = even column, high nibble = odd column).

Only the weights are quantized: activations, norms, the KV cache and the matmul stay in floating
point. `QuantLinear.forward` dequantizes the whole weight and calls F.linear, so this saves
memory and disk, not time; a production kernel fuses the dequantization into the matmul.

Tied embedding: in MiniMind `lm_head.weight` *is* `embed_tokens.weight` (one (vocab, hidden)
matrix). `quantize_model` quantizes that matrix once, as lm_head (a row = a vocabulary entry),
and replaces the embedding with a `QuantEmbedding` that reads rows of the very same codes and
scales: still one matrix in two roles, stored once. With `quantize_embedding=False` the tied pair
is left in float (quantizing lm_head alone would store the matrix twice and untie it).
"""

from __future__ import annotations

import copy
import warnings

import torch
import torch.nn.functional as F
from torch import nn

SUPPORTED_BITS = (4, 8)


def qmax(bits: int) -> int:
    """Largest code of a symmetric signed `bits`-bit grid: 127 for 8 bits, 7 for 4."""
    if bits not in SUPPORTED_BITS:
        raise ValueError(f"bits must be one of {SUPPORTED_BITS}, got {bits}")
    return 2 ** (bits - 1) - 1


def _groups(in_features: int, group_size: int | None) -> int:
    """Number of groups per row; group_size None = one group per row (per output channel)."""
    if group_size is None:
        return 1
    if group_size <= 0 or in_features % group_size:
        raise ValueError(f"group_size {group_size} does not divide the input dimension {in_features}")
    return in_features // group_size


def quantize_weight(w: torch.Tensor, bits: int, group_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Absmax codes and scales of a 2-D weight (out, in).

    Returns codes int8 (out, in) in [-qmax, qmax] and scales float32 (out, n_groups), where
    n_groups = in // group_size (1 when group_size is None: per output channel).
    """
    out_f, in_f = w.shape
    n_groups = _groups(in_f, group_size)
    top = qmax(bits)
    grouped = w.detach().float().reshape(out_f, n_groups, in_f // n_groups)  # (out, G, g)
    absmax = grouped.abs().amax(dim=-1, keepdim=True)  # (out, G, 1)
    scale = torch.where(absmax > 0, absmax / top, torch.ones_like(absmax))  # an all-zero group: any scale works
    codes = torch.round(grouped / scale).clamp_(-top, top).to(torch.int8)  # |w/s| <= qmax: clamp never bites
    return codes.reshape(out_f, in_f), scale.squeeze(-1)


def dequantize_weight(codes: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """codes (..., in) and scales (..., n_groups) -> float32 weights (..., in)."""
    n_groups = scale.shape[-1]
    grouped = codes.float().unflatten(-1, (n_groups, codes.shape[-1] // n_groups))  # (..., G, g)
    return (grouped * scale.float().unsqueeze(-1)).flatten(-2)


def pack_int4(codes: torch.Tensor) -> torch.Tensor:
    """int8 codes in [-8, 7], (..., in) with in even -> uint8 (..., in // 2), two codes per byte."""
    if codes.shape[-1] % 2:
        raise ValueError(f"INT4 packing needs an even input dimension, got {codes.shape[-1]}")
    shifted = (codes.to(torch.int16) + 8).to(torch.uint8)  # [-8, 7] -> [0, 15]: one nibble
    return shifted[..., 0::2] | (shifted[..., 1::2] << 4)


def unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    """uint8 (..., in // 2) -> int8 codes (..., in): the inverse of pack_int4."""
    low = (packed & 0x0F).to(torch.int8) - 8
    high = (packed >> 4).to(torch.int8) - 8
    return torch.stack([low, high], dim=-1).flatten(-2)


class _QuantStorage(nn.Module):
    """The stored form shared by QuantLinear and QuantEmbedding: `qweight` and `scale` buffers.

    qweight: int8 (rows, cols) for 8 bits, uint8 (rows, cols // 2) for 4 bits (packed).
    scale: float32 (rows, n_groups).
    """

    bits: int
    group_size: int | None

    def _store(self, codes: torch.Tensor, scale: torch.Tensor) -> None:
        self.register_buffer("qweight", pack_int4(codes) if self.bits == 4 else codes)
        self.register_buffer("scale", scale)

    def _share(self, other: _QuantStorage) -> None:
        """Point at another module's buffers: the same tensors, not copies (tied weights)."""
        self.register_buffer("qweight", other.qweight)
        self.register_buffer("scale", other.scale)

    def codes(self, rows: torch.Tensor | None = None) -> torch.Tensor:
        """int8 codes of all rows, or of the selected rows only."""
        q = self.qweight if rows is None else self.qweight[rows]
        return unpack_int4(q) if self.bits == 4 else q

    def dequantize(self, rows: torch.Tensor | None = None) -> torch.Tensor:
        """The matrix these codes stand for (or the selected rows of it), in the scales' dtype."""
        scale = self.scale if rows is None else self.scale[rows]
        return dequantize_weight(self.codes(rows), scale).to(scale.dtype)


class QuantLinear(_QuantStorage):
    """A bias-optional Linear whose weight is stored as INT8 or INT4 codes plus float32 scales."""

    def __init__(self, in_features: int, out_features: int, bits: int = 8, group_size: int | None = None,
                 bias: bool = False) -> None:
        super().__init__()
        qmax(bits)  # validates bits
        _groups(in_features, group_size)  # validates group_size
        self.in_features, self.out_features = in_features, out_features
        self.bits, self.group_size = bits, group_size
        codes = torch.zeros(out_features, in_features, dtype=torch.int8)
        self._store(codes, torch.ones(out_features, _groups(in_features, group_size)))
        self.bias = nn.Parameter(torch.zeros(out_features), requires_grad=False) if bias else None

    @classmethod
    def from_linear(cls, linear: nn.Linear, bits: int = 8, group_size: int | None = None) -> QuantLinear:
        q = cls(linear.in_features, linear.out_features, bits, group_size, bias=linear.bias is not None)
        codes, scale = quantize_weight(linear.weight, bits, group_size)
        q._store(codes, scale.to(linear.weight.device))
        if linear.bias is not None:
            q.bias = nn.Parameter(linear.bias.detach().clone(), requires_grad=False)
        return q

    @property
    def weight(self) -> torch.Tensor:
        """The float weight this layer computes with, rebuilt on every access (not stored)."""
        return self.dequantize()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., in) -> (..., out)
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return F.linear(x, self.dequantize().to(x.dtype), bias)

    def extra_repr(self) -> str:
        group = "per output channel" if self.group_size is None else f"group_size={self.group_size}"
        return f"in_features={self.in_features}, out_features={self.out_features}, bits={self.bits}, {group}"


class QuantEmbedding(_QuantStorage):
    """An embedding table stored as codes plus scales; a lookup dequantizes only the rows it reads."""

    def __init__(self, num_embeddings: int, embedding_dim: int, bits: int = 8,
                 group_size: int | None = None) -> None:
        super().__init__()
        qmax(bits)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.bits, self.group_size = bits, group_size
        self._store(torch.zeros(num_embeddings, embedding_dim, dtype=torch.int8),
                    torch.ones(num_embeddings, _groups(embedding_dim, group_size)))

    @classmethod
    def from_embedding(cls, emb: nn.Embedding, bits: int = 8, group_size: int | None = None) -> QuantEmbedding:
        q = cls(emb.num_embeddings, emb.embedding_dim, bits, group_size)
        codes, scale = quantize_weight(emb.weight, bits, group_size)
        q._store(codes, scale.to(emb.weight.device))
        return q

    @classmethod
    def tied_to(cls, head: QuantLinear) -> QuantEmbedding:
        """An embedding that reads lm_head's codes: row i of the (vocab, hidden) head is token i's vector."""
        q = cls.__new__(cls)
        _QuantStorage.__init__(q)
        q.num_embeddings, q.embedding_dim = head.out_features, head.in_features
        q.bits, q.group_size = head.bits, head.group_size
        q._share(head)
        return q

    @property
    def weight(self) -> torch.Tensor:
        return self.dequantize()

    def forward(self, ids: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, T, dim)
        return self.dequantize(ids)

    def extra_repr(self) -> str:
        group = "per row" if self.group_size is None else f"group_size={self.group_size}"
        return f"{self.num_embeddings}, {self.embedding_dim}, bits={self.bits}, {group}"


def _replace(model: nn.Module, want: type, make) -> None:  # make: module -> module or None
    """Replace every child whose type is exactly `want` by make(child), unless make returns None."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is want:
                new = make(child)
                if new is not None:
                    setattr(parent, name, new)


@torch.no_grad()
def quantize_model(model: nn.Module, bits: int = 8, group_size: int | None = None,
                   quantize_embedding: bool = True) -> nn.Module:
    """Swap every nn.Linear (and nn.Embedding) of `model` for its quantized form, in place.

    bits 8 with group_size None: INT8 per output channel; bits 4 with group_size 32 or 64: INT4
    group-wise. A Linear that shares its weight with an embedding (MiniMind's tied lm_head) is
    quantized once and the embedding becomes a QuantEmbedding over the same buffers; with
    quantize_embedding=False both stay in float. Returns the model.
    """
    embedding_weights = {id(m.weight) for m in model.modules() if type(m) is nn.Embedding}
    done: dict[int, QuantLinear] = {}  # id(float weight) -> its QuantLinear

    def linear(child: nn.Linear) -> QuantLinear | None:
        if id(child.weight) in embedding_weights and not quantize_embedding:
            return None  # tied to an embedding that stays in float: keep the pair tied
        q = QuantLinear.from_linear(child, bits, group_size)
        done[id(child.weight)] = q
        return q

    def embedding(child: nn.Embedding) -> QuantEmbedding | None:
        if id(child.weight) in done:
            return QuantEmbedding.tied_to(done[id(child.weight)])
        return QuantEmbedding.from_embedding(child, bits, group_size) if quantize_embedding else None

    _replace(model, nn.Linear, linear)
    _replace(model, nn.Embedding, embedding)
    return model


def _tensors(value: object) -> list[torch.Tensor]:
    """The tensors inside a state-dict value (PyTorch's quantized modules store tuples)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v)]
    return []


def model_size_bytes(model: nn.Module) -> int:
    """Bytes of the tensors a checkpoint of `model` holds: its state dict, each storage counted once.

    A tied matrix (or QuantEmbedding's shared codes) counts once; non-persistent buffers such as
    RoPE's cos/sin tables are derived from the config and not counted.
    """
    seen, total = set(), 0
    for value in model.state_dict().values():
        for t in _tensors(value):
            key = (t.data_ptr(), t.nbytes)
            if key not in seen:
                seen.add(key)
                total += t.nbytes
    return total


def torch_dynamic_int8(model: nn.Module, skip: tuple[str, ...] = ("lm_head",)) -> tuple[nn.Module | None, str]:
    """PyTorch's built-in dynamic INT8 (`torch.ao.quantization.quantize_dynamic`), for comparison.

    Returns (a quantized copy, "") or (None, why it is unavailable on this torch). It quantizes
    each Linear's weight per tensor (scale = max|W| / 127.5) and, unlike QuantLinear, also each
    activation, on the fly per batch. The Linear layers named in `skip` stay in float: MiniMind's
    lm_head is tied to the embedding, which quantize_dynamic cannot quantize with it, and its
    quantized module has no `weight` tensor, which MiniMindForCausalLM reads.
    """
    api = getattr(getattr(torch, "ao", None), "quantization", None)
    if api is None or not hasattr(api, "quantize_dynamic"):
        return None, "torch.ao.quantization.quantize_dynamic is not in this torch"
    engines = torch.backends.quantized.supported_engines
    if not any(e in engines for e in ("x86", "fbgemm", "qnnpack", "onednn")):
        return None, f"no quantized CPU engine in this torch build (engines: {engines})"
    names = {name for name, m in model.named_modules() if type(m) is nn.Linear and name not in skip}
    try:
        with warnings.catch_warnings():  # deprecated in favour of torchao since torch 2.9; still works
            warnings.simplefilter("ignore")
            quantized = api.quantize_dynamic(copy.deepcopy(model), names, dtype=torch.qint8)
    except Exception as e:  # an unsupported build or a removed API: report, do not crash
        return None, f"quantize_dynamic failed: {type(e).__name__}: {e}"
    return quantized, ""
