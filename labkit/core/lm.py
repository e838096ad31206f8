"""The kit's small language model: a `transformers.LlamaForCausalLM` (RMSNorm, rotary positions, SwiGLU MLP,
grouped-query attention) with a byte-level BPE tokenizer built with `tokenizers` on Tiny Shakespeare's training
split; loading the shipped copy, and the held-out loss per character."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

import torch

from labkit.core.data import DataError
from labkit.core.paths import data_dir
from labkit.core.progress import tqdm

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing from transformers may reach a hub

# The model's shape (transformers.LlamaConfig fields), chosen to train to <= 1.70 nats/char within about
# 15 minutes on 2 CPU cores.
CONFIG = {
    "vocab_size": 2048, "hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4,
    "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512,
    "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": True,
}
FILES = ("model.safetensors", "config.json", "tokenizer.json", "manifest.json")


def model_dir() -> Path:
    """The shipped model's folder, data/weights/shakespeare-lm."""
    return data_dir() / "weights" / "shakespeare-lm"


def build_tokenizer(text: str, vocab_size: int = CONFIG["vocab_size"]):
    """A byte-level BPE tokenizer (`tokenizers.Tokenizer`) trained on `text`: any input encodes, nothing unknown."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator([text], trainer)
    return tok


def build_model(seed: int = 0, **overrides):
    """A freshly initialised LlamaForCausalLM of the kit's shape (CONFIG, with `overrides`)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(**{**CONFIG, **overrides})).eval()


def verify(folder: Path | None = None) -> dict:
    """The manifest of the model in `folder` (default: the shipped one), after checking that every file is
    there and the weights' SHA-256 matches it; DataError otherwise."""
    folder = folder or model_dir()
    hint = "Restore it with `git checkout -- data/weights/shakespeare-lm` or rebuild it with `labkit train lm --force`."
    for name in FILES:
        if not (folder / name).exists():
            raise DataError(f"{folder / name} is missing. {hint}")
    manifest = json.loads((folder / "manifest.json").read_text())
    digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    if digest != manifest.get("sha256"):
        raise DataError(f"{folder / 'model.safetensors'} does not match its manifest (SHA-256 {digest[:12]}..., "
                        f"manifest says {str(manifest.get('sha256'))[:12]}...). {hint}")
    return manifest


def load(folder: Path | None = None):
    """(model, tokenizer) of the shipped language model, verified, in fp32 and eval mode, offline."""
    from tokenizers import Tokenizer
    from transformers import LlamaForCausalLM

    folder = folder or model_dir()
    verify(folder)
    with no_loading_bar():
        model = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32, local_files_only=True).eval()
    return model, Tokenizer.from_file(str(folder / "tokenizer.json"))


@contextlib.contextmanager
def no_loading_bar():
    """transformers' "Loading weights" bar off inside the block (the kit's model loads in a blink, and in a notebook
    the bar would stay behind as a widget that a saved and reopened notebook cannot display)."""
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def encode(tokenizer, text: str) -> torch.Tensor:
    """Token ids of `text` as a 1-D int64 tensor."""
    return torch.tensor(tokenizer.encode(text).ids, dtype=torch.int64)


@torch.no_grad()
def loss_per_char(logits_fn, ids: torch.Tensor, n_chars: int, context: int = 256, max_windows: int | None = None,
                  progress: str | None = None) -> float:
    """Held-out loss in nats per character: the summed next-token loss over non-overlapping windows of `context`
    tokens (`logits_fn` maps (1, tokens) ids to logits), divided by the characters those tokens cover (`n_chars`
    for all of `ids`; prorated by tokens when `max_windows` evaluates only the first windows). Per character,
    tokenizers of any vocabulary compare."""
    windows = ids[: (len(ids) - 1) // context * context + 1]
    starts = list(range(0, len(windows) - 1, context))[:max_windows]
    total, count = 0.0, 0
    for s in tqdm(starts, desc=progress, leave=False, disable=progress is None, mininterval=1.0):
        x, y = windows[s: s + context][None], windows[s + 1: s + context + 1][None]
        logits = torch.as_tensor(logits_fn(x))
        total += torch.nn.functional.cross_entropy(logits[0].float(), y[0], reduction="sum").item()
        count += y.numel()
    return total / (n_chars * count / (len(ids) - 1))

