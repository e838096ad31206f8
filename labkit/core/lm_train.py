"""Reproducing the shipped language model (`labkit train lm`): tokenizer, training, manifest."""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path

import torch

from labkit.core import lm, text
from labkit.core.cpu import cpu_info
from labkit.core.paths import folder
from labkit.core.progress import tqdm
from labkit.core.sysinfo import versions

RECIPE = {"steps": 500, "batch_size": 16, "context": 256, "lr": 3e-3, "warmup": 30, "weight_decay": 0.1,
          "seed": 0, "optimizer": "AdamW, linear warm-up then cosine decay", "stored_as": "float16"}


def _batches(ids: torch.Tensor, steps: int, batch_size: int, context: int, seed: int):
    """`steps` batches of random windows (inputs, next-token targets), reproducible from `seed`."""
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        starts = torch.randint(0, len(ids) - context - 1, (batch_size,), generator=gen)
        window = torch.stack([ids[s: s + context + 1] for s in starts.tolist()])
        yield window[:, :-1], window[:, 1:]


def _lr(step: int, steps: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def train_lm(out_dir: Path, steps: int = RECIPE["steps"], seed: int = RECIPE["seed"], force: bool = False) -> dict:
    """Build the tokenizer on the training split, train the model for `steps`, store it in float16 and write
    model.safetensors, config.json, tokenizer.json and manifest.json (with the held-out loss per character of the
    stored weights) into `out_dir`. Refuses to overwrite without `force`."""
    out_dir = folder(out_dir)  # checked before the training, not after
    taken = [out_dir / name for name in lm.FILES if (out_dir / name).exists()]
    if taken and not force:
        raise FileExistsError(f"{taken[0]} already exists; pass --force to replace it or --out to write elsewhere.")
    r = {**RECIPE, "steps": steps, "seed": seed}
    train_text, test_text = text.load("train"), text.load("test")
    tokenizer = lm.build_tokenizer(train_text)
    ids = lm.encode(tokenizer, train_text)
    model = lm.build_model(seed).train()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": r["weight_decay"]},
                             {"params": rest, "weight_decay": 0.0}], lr=r["lr"], betas=(0.9, 0.95))
    t0 = time.time()
    bar = tqdm(_batches(ids, steps, r["batch_size"], r["context"], seed), total=steps, desc="lm", mininterval=2.0)
    for step, (x, y) in enumerate(bar):
        for group in opt.param_groups:
            group["lr"] = _lr(step, steps, r["lr"], r["warmup"])
        logits = model(input_ids=x).logits
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    train_seconds = time.time() - t0
    model = model.half().float().eval()  # evaluate exactly the weights that are stored
    test_ids = lm.encode(tokenizer, test_text)
    held_out = lm.loss_per_char(lambda x: model(input_ids=x).logits, test_ids, len(test_text), r["context"],
                                progress="held-out")
    out_dir.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(out_dir, safe_serialization=True)
    (out_dir / "generation_config.json").unlink(missing_ok=True)
    tokenizer.save(str(out_dir / "tokenizer.json"))
    weights = out_dir / "model.safetensors"
    manifest = {
        "file": weights.name,
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "architecture": "transformers.LlamaForCausalLM(LlamaConfig(**labkit.core.lm.CONFIG))",
        "params": sum(p.numel() for p in model.parameters()),
        "held_out_loss_per_char": round(held_out, 4),
        "held_out_chars": len(test_text),
        "chars_per_token": round(len(test_text) / len(test_ids), 4),
        "command": f"labkit train lm --steps {steps} --seed {seed}",
        "recipe": r,
        "train_seconds": round(train_seconds, 1),
        "trained_on": {"cpu": cpu_info()["model"], "threads": torch.get_num_threads(), **versions()},
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
