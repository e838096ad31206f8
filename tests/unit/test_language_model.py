"""Notebook 07 (a language model on a laptop): the smoke run's ledger, the shipped model against its manifest,
and unit tests of the memory arithmetic, the generation loop and the text data."""


from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from labkit.core import lm, text
from labkit.core.data import DataError
from labkit.core.lm_train import train_lm
from labkit.techniques import generation
from labkit.techniques import language_model as lang

FP32, ORT_FP32 = "torch fp32", "ORT fp32"


ORT_INT4, AO_INT8, AO_INT4 = "ORT int4 MatMulNBits g32", "torchao int8 weight-only", "torchao int4 weight-only g32"


LM_KEYS = ("perplexity", "prefill_tokens_per_s", "decode_tokens_per_s", "context")


def first(df, variant):
    hit = df[df["variant"] == variant]
    assert len(hit), f"no ledger row for {variant!r}; rows: {sorted(df['variant'])}"
    return hit.iloc[0]


def test_train_lm_refuses_to_overwrite(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="--force"):
        train_lm(tmp_path, steps=1)
    assert (tmp_path / "model.safetensors").read_bytes() == b"mine"


def test_a_corrupt_model_is_refused(tmp_path):
    for name in lm.FILES:
        shutil.copy(lm.model_dir() / name, tmp_path / name)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    (tmp_path / "manifest.json").write_text(json.dumps({**manifest, "sha256": "0" * 64}))
    with pytest.raises(DataError, match="does not match its manifest"):
        lm.verify(tmp_path)


def test_kv_cache_bytes_by_hand():
    # Llama-2-7B: 2 x 32 layers x 32 KV heads x 128 x 4096 tokens x 2 bytes = 2 GiB (0.5 MiB per token)
    assert lang.kv_cache_bytes(32, 32, 128, 4096) == 2 * 2**30
    # Llama-2-70B with 8 KV heads: 2 x 80 x 8 x 128 x 4096 x 2 = 1.25 GiB, and 8 sequences take 8x that
    assert lang.kv_cache_bytes(80, 8, 128, 4096) == 1_342_177_280
    assert lang.kv_cache_bytes(80, 8, 128, 4096, batch=8) == 8 * 1_342_177_280
    # the kit's model, fp32 cache: 2 x 4 x 2 x 64 x 256 x 4 = 1 MiB
    assert lang.kv_cache_bytes(4, 2, 64, 256, bytes_per_value=4) == 2**20
    with pytest.raises(ValueError, match="tokens"):
        lang.kv_cache_bytes(4, 2, 64, -1)


def test_memory_rows_and_weight_bytes():
    s70 = next(s for s in lang.PUBLISHED if s.name == "Llama-2-70B")
    row = lang.memory_rows(s70, [4096])[0]
    assert row["kv cache without GQA"] == row["kv cache"] * 64 / 8  # GQA: 64 query heads share 8 KV heads
    assert row["weights 16-bit"] == s70.params * 2 and row["weights 4-bit"] == s70.params / 2
    assert lang.weight_only_bytes(1024, 4, group=32) == 512 + 32 * 2  # 4 bits each + one fp16 scale per 32
    assert lang.weight_only_bytes(1024, 8) == 1024


def test_int4_groupwise_error_within_half_a_step():
    w = np.random.default_rng(0).normal(0, 1, (16, 128)).astype(np.float32)
    for group in (32, 64, 128):
        w_hat = lang.int4_groupwise(w, group)
        step = np.abs(w.reshape(-1, group)).max(1, keepdims=True) / 7
        assert np.all(np.abs(w - w_hat).reshape(-1, group) <= step / 2 + 1e-6)
        assert len(np.unique(np.round(w_hat.reshape(-1, group) / step))) <= 16
    with pytest.raises(ValueError, match="groups of 32"):
        lang.int4_groupwise(np.ones((2, 40), np.float32), 32)


@pytest.fixture(scope="module")
def tiny_model():
    return lm.build_model(seed=0, vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)


def test_greedy_with_and_without_cache_agree(tiny_model):
    prompt = np.random.default_rng(0).integers(0, 64, (2, 7))
    a = generation.generate(generation.TorchLM(tiny_model), prompt, 12)
    b = generation.generate(generation.TorchLM(tiny_model, use_cache=False), prompt, 12)
    assert a.tokens.shape == (2, 12) and np.array_equal(a.tokens, b.tokens)
    assert len(a.step_s) == 11 and a.decode_tokens_per_s > 0 and a.prefill_tokens_per_s > 0


def test_sampling_is_reproducible_from_the_seed(tiny_model):
    lm_ = generation.TorchLM(tiny_model)
    prompt = np.arange(5)[None]
    same = [generation.generate(lm_, prompt, 10, temperature=1.0, seed=3).tokens for _ in range(2)]
    assert np.array_equal(*same)
    with pytest.raises(ValueError, match="n_new"):
        generation.generate(lm_, prompt, 0)


def test_identical_prefix_counts_until_the_first_difference():
    ref = np.array([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]])
    assert generation.identical_prefix(ref, ref) == 5
    other = ref.copy()
    other[1, 2] = 0  # one sequence differs at the third token: the later agreement does not count
    assert generation.identical_prefix(other, ref) == 2
    assert generation.identical_prefix(ref[0], ref[0, :3]) == 3  # 1-D rows, and the shorter length bounds it


def test_kv_cache_module_matches_the_model(tiny_model):
    ids = torch.randint(0, 64, (1, 6))
    past = lang.empty_cache(tiny_model)
    logits, *present = lang.KVCacheLM(tiny_model)(ids, *past)
    torch.testing.assert_close(logits, tiny_model(input_ids=ids).logits)
    assert len(present) == 2 * 2 and present[0].shape == (1, 2, 6, 8)
    step, *_ = lang.KVCacheLM(tiny_model)(ids[:, -1:], *[p[:, :, :-1] for p in present])
    torch.testing.assert_close(step[:, -1], tiny_model(input_ids=ids).logits[:, -1], atol=1e-5, rtol=1e-5)


def test_text_split_and_checksum(tmp_path, monkeypatch):
    train, test = text.load("train"), text.load("test")
    assert len(test) == pytest.approx(0.1 * (len(train) + len(test)), abs=1)
    with pytest.raises(ValueError, match="split"):
        text.load("validation")
    bad = tmp_path / "tinyshakespeare"
    shutil.copytree(text.dataset_dir(), bad)
    (bad / "input.txt").write_text("To be, or not to be" + (bad / "input.txt").read_text()[19:])
    monkeypatch.setenv("LABKIT_DATA", str(tmp_path))
    with pytest.raises(DataError, match="corrupt"):
        text.load("train")


def test_pad_mlp_keeps_the_outputs(tiny_model):
    padded = lang.pad_mlp(tiny_model, 48)  # 64 -> 96
    assert padded.model.layers[0].mlp.down_proj.in_features == 96 and padded.config.intermediate_size == 96
    ids = torch.randint(0, 64, (1, 9))
    torch.testing.assert_close(padded(input_ids=ids).logits, tiny_model(input_ids=ids).logits)
    assert lang.pad_mlp(tiny_model, 32).config.intermediate_size == 64  # already whole groups
