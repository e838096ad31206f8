"""Running a causal language model token by token: one generation loop (prefill then decode, timed apart, greedy
or sampled) over interchangeable backends (PyTorch with or without the KV cache, an exported model with the cache
as inputs and outputs in ONNX Runtime or OpenVINO, a model folder of onnxruntime-genai), and the held-out loss per
character of any of them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from labkit.techniques.language_model import Shape, cache_names, shape_of


class TorchLM:
    """A transformers causal LM in PyTorch; `use_cache=False` recomputes the whole sequence at every step."""

    runtime = "torch"

    def __init__(self, model, use_cache: bool = True):
        self.model, self.use_cache = model.eval(), use_cache

    @torch.inference_mode()
    def logits(self, ids: np.ndarray) -> np.ndarray:
        """Logits (batch, tokens, vocab) of a whole sequence, no cache."""
        return self.model(input_ids=torch.as_tensor(ids), use_cache=False).logits.float().numpy()

    @torch.inference_mode()
    def prefill(self, ids: np.ndarray):
        ids = torch.as_tensor(ids)
        out = self.model(input_ids=ids, use_cache=self.use_cache)
        return out.logits[:, -1].float().numpy(), (out.cache if self.use_cache else ids)

    @torch.inference_mode()
    def step(self, tokens: np.ndarray, state):
        new = torch.as_tensor(tokens)[:, None]
        if self.use_cache:
            out = self.model(input_ids=new, cache=state, use_cache=True)
            return out.logits[:, -1].float().numpy(), out.cache
        ids = torch.cat([state, new], dim=1)
        return self.model(input_ids=ids, use_cache=False).logits[:, -1].float().numpy(), ids


class ExportedLM:
    """A model exported with `KVCacheLM` (input_ids and past_* in, logits and present_* out), run by a function
    from a dict of numpy inputs to the list of outputs; see `ort_lm` and `openvino_lm`."""

    def __init__(self, run, layers: int, kv_heads: int, head_dim: int, runtime: str, precision: str = "fp32"):
        self.run, self.runtime, self.precision = run, runtime, precision
        self.names = cache_names(layers, "past")
        self.cache_shape = (kv_heads, head_dim)

    def _feeds(self, ids: np.ndarray, past: list[np.ndarray] | None) -> dict:
        ids = np.asarray(ids, np.int64)
        if past is None:
            past = [np.zeros((len(ids), *self.cache_shape[:1], 0, self.cache_shape[1]), np.float32)] * len(self.names)
        return {"input_ids": ids, **dict(zip(self.names, past, strict=True))}

    def logits(self, ids: np.ndarray) -> np.ndarray:
        return np.asarray(self.run(self._feeds(ids, None))[0])

    def prefill(self, ids: np.ndarray):
        out = self.run(self._feeds(ids, None))
        return np.asarray(out[0])[:, -1], list(out[1:])

    def step(self, tokens: np.ndarray, state):
        out = self.run(self._feeds(np.asarray(tokens)[:, None], state))
        return np.asarray(out[0])[:, -1], list(out[1:])


def _shape(model) -> Shape:
    return model if isinstance(model, Shape) else shape_of(model)


def ort_lm(path: str | Path, model, threads: int | None = None) -> ExportedLM:
    """An ExportedLM on ONNX Runtime's CPU provider (all graph optimisations, worker threads not spinning); `model`
    is the PyTorch model it was exported from, or its Shape."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.intra_op_num_threads = threads or torch.get_num_threads()
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    s = _shape(model)
    return ExportedLM(lambda feeds: session.run(None, feeds), s.layers, s.kv_heads, s.head_dim, "onnxruntime")


def openvino_lm(path: str | Path, model, precision: str = "fp32") -> ExportedLM:
    """An ExportedLM on OpenVINO's CPU plugin, asked for `precision` (it would pick bf16 by itself on a CPU with
    native bf16); `precision` records what the plugin reports it ran. `model` as for `ort_lm`."""
    import openvino as ov

    hint = {"fp32": "f32", "bf16": "bf16"}[precision]
    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": hint})
    ran = str(compiled.get_property("INFERENCE_PRECISION_HINT"))
    request = compiled.create_infer_request()
    s = _shape(model)

    def run(feeds):
        result = request.infer(feeds)
        return [result[out] for out in compiled.outputs]

    return ExportedLM(run, s.layers, s.kv_heads, s.head_dim, "openvino", "fp32" if "32" in ran else ran)


class GenaiLM:
    """A model folder written by onnxruntime-genai's model builder (model.onnx and genai_config.json), loaded as
    `onnxruntime_genai.Model`, driven through its `Generator`: the kit's loop picks each token and hands it back with
    `append_tokens`, so the timing and the sampling are the same as for the other backends."""

    runtime = "onnxruntime-genai"

    def __init__(self, og_model, precision: str = "fp32"):
        self.model, self.precision = og_model, precision

    def _generator(self, ids: np.ndarray):
        import onnxruntime_genai as og

        ids = np.atleast_2d(np.asarray(ids, np.int32))
        params = og.GeneratorParams(self.model)
        params.set_search_options(batch_size=len(ids))
        generator = og.Generator(self.model, params)
        generator.append_tokens(ids)
        return generator

    def logits(self, ids: np.ndarray) -> np.ndarray:
        return np.asarray(self._generator(ids).get_output("logits"))

    def prefill(self, ids: np.ndarray):
        generator = self._generator(ids)
        return np.asarray(generator.get_logits())[:, -1], generator

    def step(self, tokens: np.ndarray, state):
        state.append_tokens(np.asarray(tokens, np.int32)[:, None])
        return np.asarray(state.get_logits())[:, -1], state


@dataclass
class Generation:
    """New tokens (batch, n) and the seconds of the prefill and of each decode step."""

    tokens: np.ndarray
    prompt_tokens: int
    prefill_s: float
    step_s: list[float] = field(default_factory=list)

    @property
    def batch(self) -> int:
        return len(self.tokens)

    @property
    def prefill_tokens_per_s(self) -> float:
        return self.batch * self.prompt_tokens / self.prefill_s

    @property
    def decode_tokens_per_s(self) -> float:
        """New tokens per second over the decode steps (the first new token comes from the prefill)."""
        return self.batch * len(self.step_s) / sum(self.step_s) if self.step_s else float("nan")


def _pick(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> np.ndarray:
    if temperature <= 0:
        return logits.argmax(-1)
    z = logits.astype(np.float64) / temperature
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return np.array([rng.choice(len(row), p=row) for row in p])


def generate(lm, prompt: np.ndarray, n_new: int, temperature: float = 0.0, seed: int = 0) -> Generation:
    """`n_new` tokens after `prompt` (batch, tokens) with any backend above: greedy at temperature 0, sampled
    otherwise (reproducibly from `seed`). The prefill and every decode step are timed apart."""
    prompt = np.atleast_2d(np.asarray(prompt, np.int64))
    if n_new < 1 or prompt.shape[1] < 1:
        raise ValueError(f"need a prompt of at least one token and n_new >= 1, got {prompt.shape} and {n_new}")
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    logits, state = lm.prefill(prompt)
    gen = Generation(np.zeros((len(prompt), n_new), np.int64), prompt.shape[1], time.perf_counter() - t0)
    for i in range(n_new):
        gen.tokens[:, i] = _pick(logits, temperature, rng)
        if i + 1 < n_new:
            t0 = time.perf_counter()
            logits, state = lm.step(gen.tokens[:, i], state)
            gen.step_s.append(time.perf_counter() - t0)
    return gen


def identical_prefix(tokens: np.ndarray, reference: np.ndarray) -> int:
    """How many leading new tokens (columns of (batch, n) arrays) are identical to `reference` in every sequence:
    greedy parity counts tokens until the first difference, since every later token depends on it."""
    tokens, reference = np.atleast_2d(tokens), np.atleast_2d(reference)
    n = min(tokens.shape[1], reference.shape[1])
    return int((tokens[:, :n] == reference[:, :n]).all(axis=0).cumprod().sum())


def loss_per_char(lm, ids: np.ndarray, n_chars: int, context: int = 256, max_windows: int | None = None,
                  progress: str | None = None) -> float:
    """Held-out loss in nats per character of any backend above (see labkit.core.lm.loss_per_char)."""
    from labkit.core.lm import loss_per_char as per_char

    return per_char(lambda x: torch.from_numpy(lm.logits(x.numpy())), torch.as_tensor(ids), n_chars, context,
                    max_windows, progress)


def interleaved_speed(lms: dict, prompt: np.ndarray, n_new: int, rounds: int = 5,
                      progress: str | None = None) -> dict[str, dict[str, float]]:
    """`speed` for several backends compared with each other: one warm-up each, then `rounds` rounds in which
    every backend generates once, so that a machine that drifts moves them all alike. Per backend: the medians and
    the quartiles of decode tokens per second (`decode_tokens_per_s_q1`, `_q3`)."""
    from labkit.core.progress import tqdm

    for lm in lms.values():
        generate(lm, prompt, min(n_new, 2))
    runs: dict[str, list[Generation]] = {name: [] for name in lms}
    for _ in tqdm(range(rounds), desc=progress or "interleaved generations", leave=False, disable=progress is None):
        for name, lm in lms.items():
            runs[name].append(generate(lm, prompt, n_new))
    out = {}
    for name, gens in runs.items():
        decode = [g.decode_tokens_per_s for g in gens]
        out[name] = {"prefill_tokens_per_s": float(np.median([g.prefill_tokens_per_s for g in gens])),
                     "decode_tokens_per_s": float(np.median(decode)),
                     "decode_tokens_per_s_q1": float(np.percentile(decode, 25)),
                     "decode_tokens_per_s_q3": float(np.percentile(decode, 75)),
                     "rounds": rounds, "context": int(np.atleast_2d(prompt).shape[1]),
                     "batch": int(np.atleast_2d(prompt).shape[0])}
    return out


def speed(lm, prompt: np.ndarray, n_new: int, repeats: int = 3) -> dict[str, float]:
    """Median prefill and decode tokens per second of `repeats` greedy generations (after one warm-up), with
    the prompt's length as `context`."""
    generate(lm, prompt, min(n_new, 2))
    runs = [generate(lm, prompt, n_new) for _ in range(repeats)]
    return {"prefill_tokens_per_s": float(np.median([g.prefill_tokens_per_s for g in runs])),
            "decode_tokens_per_s": float(np.median([g.decode_tokens_per_s for g in runs])),
            "context": int(np.atleast_2d(prompt).shape[1]), "batch": int(np.atleast_2d(prompt).shape[0])}
