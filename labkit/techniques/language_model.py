"""Deploying a language model, the arithmetic and the exporting: bytes of weights and of the KV cache (the kit's
model and published configurations of 7B and 70B-class models), weight-only quantization by hand, and the module
that gives `torch.onnx.export` the KV cache as plain inputs and outputs."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from labkit.techniques.quant_math import fake_quantize, weight_memory, with_quantized_weights


@dataclass(frozen=True)
class Shape:
    """What the memory of a decoder-only model depends on."""

    name: str
    params: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    source: str


# Published configurations (config.json of each model's release; parameter counts as published with them).
PUBLISHED = (
    Shape("Llama-2-7B", 6_738_415_616, 32, 32, 32, 128,
          "meta-llama/Llama-2-7b-hf config.json (num_hidden_layers 32, num_attention_heads 32, "
          "num_key_value_heads 32, hidden_size 4096); 6.74B parameters"),
    Shape("Mistral-7B-v0.1", 7_241_732_096, 32, 32, 8, 128,
          "mistralai/Mistral-7B-v0.1 config.json (32 layers, 32 heads, 8 KV heads, hidden_size 4096); "
          "7.24B parameters"),
    Shape("Llama-2-70B", 68_976_648_192, 80, 64, 8, 128,
          "meta-llama/Llama-2-70b-hf config.json (80 layers, 64 heads, 8 KV heads, hidden_size 8192); "
          "68.98B parameters"),
)


def shape_of(model, name: str = "this model") -> Shape:
    """The Shape of a transformers causal LM, from its config."""
    c = model.config
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    return Shape(name, sum(p.numel() for p in model.parameters()), c.num_hidden_layers, c.num_attention_heads,
                 c.num_key_value_heads, head_dim, "its own config")


def kv_cache_bytes(layers: int, kv_heads: int, head_dim: int, tokens: int, batch: int = 1,
                   bytes_per_value: float = 2) -> float:
    """Bytes of the KV cache: 2 (a key and a value) x layers x KV heads x head size x tokens x batch x bytes."""
    for name, value in (("layers", layers), ("kv_heads", kv_heads), ("head_dim", head_dim), ("tokens", tokens),
                        ("batch", batch), ("bytes_per_value", bytes_per_value)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    return 2 * layers * kv_heads * head_dim * tokens * batch * bytes_per_value


def memory_rows(shape: Shape, contexts, weight_bits=(32, 16, 8, 4), cache_bytes: float = 2) -> list[dict]:
    """One row per context length: bytes of the weights at each width, and of the KV cache (batch 1) as the
    model has it and as it would be without grouped-query attention (one KV head per query head)."""
    rows = []
    for tokens in contexts:
        row = {"model": shape.name, "context": tokens}
        row.update({f"weights {b}-bit": weight_memory(shape.params, b) for b in weight_bits})
        row["kv cache"] = kv_cache_bytes(shape.layers, shape.kv_heads, shape.head_dim, tokens, 1, cache_bytes)
        row["kv cache without GQA"] = kv_cache_bytes(shape.layers, shape.heads, shape.head_dim, tokens, 1,
                                                     cache_bytes)
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------------------------
# Weight-only quantization by hand (simulated: the weights take the quantized values, the arithmetic stays fp32)
# ---------------------------------------------------------------------------------------------------------------

def int8_per_channel(w: np.ndarray) -> np.ndarray:
    """Symmetric int8, one scale per output row (max |w| / 127), quantized and dequantized."""
    return fake_quantize(w, 8, symmetric=True, per_channel=True, axis=0)


def int4_groupwise(w: np.ndarray, group: int = 32) -> np.ndarray:
    """Symmetric int4 with one scale per `group` consecutive weights of a row (max |w| of the group / 7),
    quantized to [-8, 7] and dequantized. The row length must be a multiple of `group`."""
    w = np.asarray(w, np.float32)
    if w.ndim != 2 or w.shape[1] % group:
        raise ValueError(f"need a 2-D weight whose rows divide into groups of {group}, got shape {w.shape}")
    groups = w.reshape(-1, group)
    return fake_quantize(groups, 4, symmetric=True, per_channel=True, axis=0).reshape(w.shape)


def weight_only(model, scheme):
    """A copy of `model` whose Linear weights (the tied output layer, hence the embedding, included) went
    through `scheme`."""
    return with_quantized_weights(model, scheme)


def pad_mlp(model, multiple: int):
    """A copy of a Llama-style model whose MLP width is rounded up to a multiple of `multiple` with zero weights:
    the padded gate and up rows give silu(0) * 0 = 0, which the padded columns of down_proj multiply, so the
    outputs are unchanged. Group-wise quantizers need the input width of every Linear divisible by the group."""
    twin = copy.deepcopy(model).eval()
    width = twin.config.intermediate_size
    padded = -(-width // multiple) * multiple
    if padded == width:
        return twin
    with torch.no_grad():
        for layer in twin.model.layers:
            mlp = layer.mlp
            for name in ("gate_proj", "up_proj"):
                old = getattr(mlp, name)
                new = torch.nn.Linear(old.in_features, padded, bias=False)
                new.weight.copy_(torch.cat([old.weight, old.weight.new_zeros(padded - width, old.in_features)]))
                setattr(mlp, name, new)
            old = mlp.down_proj
            new = torch.nn.Linear(padded, old.out_features, bias=False)
            new.weight.copy_(torch.cat([old.weight, old.weight.new_zeros(old.out_features, padded - width)], dim=1))
            mlp.down_proj = new
    twin.config.intermediate_size = padded
    return twin


def weight_only_bytes(params: int, bits: int, group: int | None = None, scale_bytes: int = 2) -> float:
    """Bytes of `params` weights stored at `bits` bits plus one scale of `scale_bytes` per `group` weights
    (per row when `group` is None, which costs almost nothing)."""
    return weight_memory(params, bits) + (params / group * scale_bytes if group else 0)


# ---------------------------------------------------------------------------------------------------------------
# Export: the KV cache as inputs and outputs
# ---------------------------------------------------------------------------------------------------------------

class KVCacheLM(torch.nn.Module):
    """A causal LM taking (input_ids, past_key_0, past_value_0, ...) and returning (logits, present_key_0,
    present_value_0, ...): the cache as plain tensors, which exporters and runtimes take. An empty past
    (sequence length 0) is the prompt's prefill; a one-token input with the past is a decode step."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.layers = model.config.num_hidden_layers

    def forward(self, input_ids: torch.Tensor, *past: torch.Tensor):
        from transformers import DynamicCache

        cache = DynamicCache()
        for i in range(self.layers):
            cache.update(past[2 * i], past[2 * i + 1], i)
        out = self.model(input_ids=input_ids, cache=cache, use_cache=True)
        present = [t for layer in out.cache.layers for t in (layer.keys, layer.values)]
        return (out.logits, *present)


def cache_names(layers: int, prefix: str) -> list[str]:
    """past_key_0, past_value_0, ... (or present_...): the names the kit's exported models use."""
    return [f"{prefix}_{kind}_{i}" for i in range(layers) for kind in ("key", "value")]


def empty_cache(model, batch: int = 1, length: int = 0) -> list[torch.Tensor]:
    """Zero past keys and values of `length` tokens (random when exporting needs a non-trivial example)."""
    s = shape_of(model)
    return [torch.zeros(batch, s.kv_heads, length, s.head_dim) for _ in range(2 * s.layers)]
