"""Timing twins: the kit's model architecture (transformers' LlamaForCausalLM) built at the shapes of small models
deployed today, from their published configurations, with random weights. A decode step's time depends on the
shapes and the bytes of the weights, not on their values, so a twin times like the real model; its text is noise,
so quality is measured on the shipped trained model only. Exported and quantized twins are cached per machine in
the kit's cache folder (each built under a name of its own and renamed into place, so kernels may build at once)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from labkit.core.paths import cache_dir
from labkit.techniques.language_model import KVCacheLM, Shape, cache_names, empty_cache


@dataclass(frozen=True)
class Published:
    """A published model's shape (the fields of its config.json that set the bytes and the work per token)."""

    name: str
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied: bool
    source: str
    of_layers: int = 0  # the published depth when `layers` keeps only some of them (smoke): 0 when whole

    @property
    def label(self) -> str:
        cut = f", {self.layers} of its {self.of_layers} layers" if self.of_layers else ""
        return f"{self.name} twin{cut}"

    def config(self):
        from transformers import LlamaConfig

        return LlamaConfig(vocab_size=self.vocab, hidden_size=self.hidden, intermediate_size=self.intermediate,
                           num_hidden_layers=self.layers, num_attention_heads=self.heads,
                           num_key_value_heads=self.kv_heads, head_dim=self.head_dim, tie_word_embeddings=self.tied,
                           max_position_embeddings=4096, rms_norm_eps=1e-5)

    def params(self) -> int:
        """Parameters of the twin (counted once on a model without storage)."""
        return _params(self)

    def shape(self) -> Shape:
        """Its Shape, as the memory arithmetic and the generation backends take it."""
        return Shape(self.label, self.params(), self.layers, self.heads, self.kv_heads, self.head_dim, self.source)

    def bytes_per_token(self, bits: float, context: int = 0, cache_bits: int = 32) -> float:
        """Bytes a decode step at batch 1 reads: every weight but the embedding table (one row of it is read; the
        tied output layer reads it whole) at `bits`, plus the KV cache of `context` tokens."""
        embedding = self.vocab * self.hidden
        weights = self.params() - (embedding if not self.tied else 0)
        cache = 2 * self.layers * self.kv_heads * self.head_dim * context * cache_bits / 8
        return weights * bits / 8 + cache

    def cut(self, layers: int) -> Published:
        """The same shape with only `layers` of its layers (for quick checks; labelled as such)."""
        return replace(self, layers=layers, of_layers=self.layers) if layers < self.layers else self


@functools.cache
def _params(shape: Published) -> int:
    from transformers import LlamaForCausalLM

    with torch.device("meta"):
        return sum(p.numel() for p in LlamaForCausalLM(shape.config()).parameters())


# Typed from each model's config.json as published with it (the name is the model's repository).
SMOLLM2_135M = Published("SmolLM2-135M", 576, 1536, 30, 9, 3, 64, 49152, True,
                         "HuggingFaceTB/SmolLM2-135M config.json: hidden 576, intermediate 1536, 30 layers, "
                         "9 heads, 3 KV heads, head_dim 64, vocabulary 49152, tied embeddings")
SMOLLM2_360M = Published("SmolLM2-360M", 960, 2560, 32, 15, 5, 64, 49152, True,
                         "HuggingFaceTB/SmolLM2-360M config.json: hidden 960, intermediate 2560, 32 layers, "
                         "15 heads, 5 KV heads, head_dim 64, vocabulary 49152, tied embeddings")
QWEN3_06B = Published("Qwen3-0.6B", 1024, 3072, 28, 16, 8, 128, 151936, True,
                      "Qwen/Qwen3-0.6B config.json: hidden 1024, intermediate 3072, 28 layers, 16 heads, "
                      "8 KV heads, head_dim 128, vocabulary 151936, tied embeddings (its q/k norms left out)")
LLAMA32_1B = Published("Llama-3.2-1B", 2048, 8192, 16, 32, 8, 64, 128256, True,
                       "meta-llama/Llama-3.2-1B config.json: hidden 2048, intermediate 8192, 16 layers, 32 heads, "
                       "8 KV heads, head_dim 64, vocabulary 128256, tied embeddings")
SHAPES = {s.name: s for s in (SMOLLM2_135M, SMOLLM2_360M, QWEN3_06B, LLAMA32_1B)}


def build(shape: Published, seed: int = 0):
    """The twin in PyTorch: float32 weights drawn from `seed` with transformers' own initialisation. A tied output
    layer gets its own copy of the embedding table, as deployed files hold it: exported tied, it would be a
    Transpose of the table computed at every step, which weight-only quantizers skip (no constant weight)."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    model = LlamaForCausalLM(shape.config()).eval()
    if shape.tied:
        model.lm_head.weight = torch.nn.Parameter(model.model.embed_tokens.weight.detach().clone())
        model.config.tie_word_embeddings = False
    return model


def folder(shape: Published, seed: int = 0) -> Path:
    """The twin's folder in the cache: its name and a digest of everything its files depend on."""
    import onnx
    import onnxruntime
    import transformers

    key = json.dumps([asdict(shape), seed, torch.__version__, transformers.__version__, onnx.__version__,
                      onnxruntime.__version__], sort_keys=True)
    return cache_dir() / "twins" / f"{shape.name}-{shape.layers}l-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


@contextlib.contextmanager
def _quiet():
    """The tools' own chatter off while a twin is built (their INFO logs, warnings, printed progress): building is
    plumbing here, and sections 3 and 4 show the same calls with their output."""
    before = logging.root.manager.disable
    logging.disable(logging.INFO)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(before)


def _cached(target: Path, make) -> Path:
    """`target` (a folder), made quietly by `make(tmp)` into a folder of its own and renamed into place unless
    another process got there first."""
    if (target / "done").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        with _quiet():
            make(tmp)
        (tmp / "done").touch()
        try:
            os.rename(tmp, target)
        except OSError:  # another kernel finished first: use its copy
            if not (target / "done").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def onnx_fp32(shape: Published, seed: int = 0) -> Path:
    """The twin exported as the kit exports the shipped model (KVCacheLM, the cache as inputs and outputs, dynamic
    sequence and past), weights in an external data file (a model over 2 GB cannot hold them inside)."""
    def make(tmp: Path) -> None:
        from torch.export import Dim

        model = build(shape, seed)
        example = (torch.zeros(1, 5, dtype=torch.int64), *empty_cache(model, batch=1, length=3))
        seq, past = Dim("seq", min=1, max=2048), Dim("past", min=0, max=2048)
        with torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(KVCacheLM(model).eval(), example, tmp / "model.onnx",
                              input_names=["input_ids", *cache_names(shape.layers, "past")],
                              output_names=["logits", *cache_names(shape.layers, "present")],
                              dynamic_shapes=({1: seq}, ({2: past},) * (2 * shape.layers)), external_data=True,
                              verbose=False)

    return _cached(folder(shape, seed) / "fp32", make) / "model.onnx"


def onnx_nbits(shape: Published, bits: int, seed: int = 0, block_size: int = 32, accuracy_level: int = 4) -> Path:
    """The fp32 twin with ONNX Runtime's MatMulNBitsQuantizer: every MatMul with a constant weight becomes a
    MatMulNBits node with `bits`-bit weights, one scale per `block_size`; `accuracy_level` 4 lets its kernel
    quantize the activations to int8 and use integer dot products (the setting published CPU int4 models use)."""
    def make(tmp: Path) -> None:
        import onnx
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

        quantizer = MatMulNBitsQuantizer(onnx.load(onnx_fp32(shape, seed)), bits=bits, block_size=block_size,
                                         is_symmetric=True, accuracy_level=accuracy_level)
        quantizer.process()
        quantizer.model.save_model_to_file(str(tmp / "model.onnx"), use_external_data_format=True)

    name = f"int{bits}-b{block_size}-a{accuracy_level}"
    return _cached(folder(shape, seed) / name, make) / "model.onnx"


NNCF_SCRIPT = """
import sys
import nncf
import openvino as ov
source, bits, group, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
model = ov.Core().read_model(source)
if bits == 8:
    model = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
else:
    model = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT4_SYM, group_size=group, ratio=1.0,
                                  all_layers=True)
ov.save_model(model, out, compress_to_fp16=False)
"""


def openvino_nncf(shape: Published, bits: int, seed: int = 0, group_size: int = 32) -> Path:
    """The fp32 twin read by OpenVINO and compressed by NNCF: INT8_ASYM (per output channel) or INT4_SYM with one
    scale per `group_size` (all layers, the output layer included), saved as OpenVINO IR without fp16 weights. NNCF
    runs in a process of its own: its tables and progress display (a widget in a notebook) are not this lesson's."""
    def make(tmp: Path) -> None:
        done = subprocess.run([sys.executable, "-c", NNCF_SCRIPT, str(onnx_fp32(shape, seed)), str(bits),
                               str(group_size), str(tmp / "model.xml")], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"NNCF could not compress the {shape.label}: {done.stderr[-2000:]}")

    name = f"nncf-int{bits}" + (f"-g{group_size}" if bits == 4 else "")
    return _cached(folder(shape, seed) / name, make) / "model.xml"


def genai_folder(shape: Published, precision: str, seed: int = 0, block_size: int = 32,
                 accuracy_level: int = 4) -> Path:
    """The twin written by onnxruntime-genai's model builder (what its command line runs) from a `save_pretrained`
    folder: its own graph with fused attention, normalisation and rotary operators; `precision` "int4" stores the
    MatMul weights as MatMulNBits with `block_size` and `accuracy_level` (the builder's CPU defaults, named)."""
    def make(tmp: Path) -> None:
        from onnxruntime_genai.models import builder

        from labkit.core.lm import model_dir, no_loading_bar

        source = tmp / "hf"
        extra = [f"block_size={block_size}", f"accuracy_level={accuracy_level}"] if precision == "int4" else []
        args = (None, str(source), str(tmp / "model"), precision, "cpu", str(tmp / "cache"))
        with no_loading_bar():
            build(shape, seed).save_pretrained(source)
            shutil.copy(model_dir() / "tokenizer.json", source / "tokenizer.json")  # the builder copies a tokenizer
            builder.create_model(*args, **builder.parse_extra_options(*args, extra))
        shutil.rmtree(source)
        shutil.rmtree(tmp / "cache", ignore_errors=True)

    name = "genai-fp32" if precision == "fp32" else f"genai-{precision}-b{block_size}-a{accuracy_level}"
    return _cached(folder(shape, seed) / name, make) / "model"


@dataclass(frozen=True)
class Variant:
    """One way to run a twin: the runtime, the precision of its weights, the bits each weight costs as stored
    (its scales included), and how to load it (a generation backend, built from the cached files)."""

    runtime: str
    precision: str
    tool: str
    bits: float
    load: Callable[[], object]  # -> a generation backend (ExportedLM, GenaiLM)

    def label(self, shape: Published) -> str:
        return f"{shape.label}: {self.runtime} {self.precision}"


def variants(shape: Published, seed: int = 0) -> dict[str, list[Variant]]:
    """Every runtime's variants of the twin, grouped by runtime (compare within a group): ONNX Runtime on the kit's
    own export (fp32, MatMulNBits int8 and int4, block 32, accuracy level 4: fp32 scales add 1 bit a weight),
    onnxruntime-genai on its builder's graph (fp32, int4), OpenVINO on the kit's export with NNCF's weights (fp32
    asked for, INT8_ASYM per channel, INT4_SYM group 32 with fp16 scales)."""
    from labkit.techniques import generation

    small = shape.shape()

    def genai(precision):
        import onnxruntime_genai as og

        return lambda: generation.GenaiLM(og.Model(str(genai_folder(shape, precision, seed))), precision)

    return {
        "onnxruntime": [
            Variant("onnxruntime", "fp32", "torch.onnx.export", 32,
                    lambda: generation.ort_lm(onnx_fp32(shape, seed), small)),
            Variant("onnxruntime", "int8", "MatMulNBitsQuantizer(bits=8)", 9,
                    lambda: generation.ort_lm(onnx_nbits(shape, 8, seed), small)),
            Variant("onnxruntime", "int4", "MatMulNBitsQuantizer(bits=4)", 5,
                    lambda: generation.ort_lm(onnx_nbits(shape, 4, seed), small))],
        "onnxruntime-genai": [Variant("onnxruntime-genai", "fp32", "onnxruntime-genai builder", 32, genai("fp32")),
                              Variant("onnxruntime-genai", "int4", "onnxruntime-genai builder", 5, genai("int4"))],
        "openvino": [
            Variant("openvino", "fp32", "OpenVINO (ONNX)", 32,
                    lambda: generation.openvino_lm(onnx_fp32(shape, seed), small, precision="fp32")),
            Variant("openvino", "int8", "nncf.compress_weights INT8_ASYM", 8,
                    lambda: generation.openvino_lm(openvino_nncf(shape, 8, seed), small, precision="fp32")),
            Variant("openvino", "int4", "nncf.compress_weights INT4_SYM g32", 4.5,
                    lambda: generation.openvino_lm(openvino_nncf(shape, 4, seed), small, precision="fp32"))],
    }


PAYS = 1.5  # int4 "pays" where its decode is at least this many times its fp32's in the same runtime


def verdicts(rows, last_level_cache: int | None):
    """The twins' ledger rows as a table: per twin, runtime and precision, the bytes read per token, decode speed,
    its share of the roofline, its gain over fp32 in the same runtime, and what bounds it: the cache (weights that
    fit in the last-level cache: the DRAM roofline does not apply), memory bandwidth (at least half the roofline)
    or per-step overhead and arithmetic (less)."""
    table = rows[["shape", "runtime", "precision", "weight_bytes", "decode_tokens_per_s",
                  "roofline_tokens_per_s"]].copy()
    table["roofline_share"] = table["decode_tokens_per_s"] / table["roofline_tokens_per_s"]
    fp32 = table[table["precision"] == "fp32"].set_index(["shape", "runtime"])["decode_tokens_per_s"]
    table["speedup_vs_fp32"] = [r.decode_tokens_per_s / fp32.get((r.shape, r.runtime), float("nan"))
                                for r in table.itertuples()]
    cache = last_level_cache or 0
    table["bound"] = ["cache: overhead decides" if r.weight_bytes <= cache else
                      "memory bandwidth" if r.roofline_share >= 0.5 else "overhead or arithmetic"
                      for r in table.itertuples()]
    return table.sort_values(["runtime", "weight_bytes"]).reset_index(drop=True)


def where_int4_pays(table) -> list[str]:
    """One line per runtime: int4's decode gain over fp32 at each twin, and the smallest twin where it is at least
    PAYS (from the measurements, not a rule)."""
    lines = []
    for runtime, rows in table[table["precision"] == "int4"].groupby("runtime"):
        rows = rows.sort_values("weight_bytes")
        gains = ", ".join(f"{r.speedup_vs_fp32:.2f}x at {r.shape}" for r in rows.itertuples())
        pays = rows[rows["speedup_vs_fp32"] >= PAYS]
        where = (f"int4 pays ({PAYS:g}x or more) from {pays.iloc[0]['shape']} on" if len(pays)
                 else f"int4 reached {PAYS:g}x at no twin of this run")
        lines.append(f"{runtime}: int4 decode over fp32: {gains}; {where}")
    return lines


def fused_over_exported(table) -> list[str]:
    """One line per precision: onnxruntime-genai's decode over ONNX Runtime's on the kit's own export, per twin
    (the same weights and kernels; the graphs and the loops differ)."""
    speed = table.set_index(["shape", "runtime", "precision"])["decode_tokens_per_s"]
    lines = []
    for precision in ("fp32", "int4"):
        pairs = [(shape, speed[(shape, "onnxruntime-genai", precision)] / speed[(shape, "onnxruntime", precision)])
                 for shape in dict.fromkeys(table["shape"])
                 if (shape, "onnxruntime-genai", precision) in speed and (shape, "onnxruntime", precision) in speed]
        if pairs:
            lines.append(f"onnxruntime-genai over the kit's export in ONNX Runtime, {precision}: "
                         + ", ".join(f"{ratio:.2f}x at {shape}" for shape, ratio in pairs))
    return lines


def parse(spec: str) -> Published:
    """A twin named in a profile's list: "SmolLM2-360M", or "SmolLM2-135M:2" for its first 2 layers only."""
    name, _, layers = spec.partition(":")
    if name not in SHAPES:
        raise ValueError(f"unknown twin {name!r}; the kit has {', '.join(SHAPES)}")
    return SHAPES[name].cut(int(layers)) if layers else SHAPES[name]
