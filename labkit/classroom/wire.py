"""The plain format in which the grader and its sandboxed child exchange inputs and answers: a JSON document
plus one `.npz` of arrays, loaded with allow_pickle=False, so that nothing a submission returns can run code
in the grader. Arrays, torch tensors, pandas frames, lists, tuples, dicts with text keys, numbers, text,
booleans and None travel; anything else is refused with a sentence. The child loads this file by its path,
so it imports nothing from labkit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

LIMIT_BYTES = 64 << 20  # the most an answer file may hold (a submission could return a huge array)


def _encode(value, arrays: dict[str, np.ndarray]):
    def array(a: np.ndarray, tag: str) -> dict:
        if a.dtype.hasobject and all(isinstance(v, str) for v in a.flat):  # text, e.g. a frame's labels
            a = a.astype(str)
        if a.dtype.hasobject:
            raise TypeError("an array of Python objects cannot be sent back; return numbers")
        key = f"a{len(arrays)}"
        arrays[key] = a
        return {tag: key}

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return array(value, "__array__")
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        return array(value.detach().cpu().numpy(), "__tensor__")
    if type(value).__name__ == "DataFrame" and hasattr(value, "to_dict"):
        return {"__frame__": {str(c): array(value[c].to_numpy(), "__array__") for c in value.columns}}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, arrays) for v in value]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: _encode(v, arrays) for k, v in value.items()}}
    raise TypeError(f"a {type(value).__name__} cannot be sent back; return arrays, numbers, text, lists or dicts")


def _decode(obj, arrays):
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__array__" in obj:
        return arrays[obj["__array__"]]
    if "__tensor__" in obj:
        import torch

        return torch.from_numpy(np.array(arrays[obj["__tensor__"]]))
    if "__frame__" in obj:
        import pandas as pd

        return pd.DataFrame({c: _decode(v, arrays) for c, v in obj["__frame__"].items()})
    if "__tuple__" in obj:
        return tuple(_decode(v, arrays) for v in obj["__tuple__"])
    return {k: _decode(v, arrays) for k, v in obj["__dict__"].items()}


def save(stem: str | Path, value) -> None:
    """Write `value` as `stem.json` and `stem.npz` (TypeError for what cannot travel)."""
    arrays: dict[str, np.ndarray] = {}
    doc = json.dumps(_encode(value, arrays), allow_nan=True)
    np.savez(f"{stem}.npz", **arrays)
    Path(f"{stem}.json").write_text(doc)


def load(stem: str | Path):
    """Read what `save` wrote; ValueError when the files are missing, too large or malformed."""
    paths = [Path(f"{stem}.json"), Path(f"{stem}.npz")]
    for p in paths:
        if not p.is_file() or p.is_symlink():
            raise ValueError(f"{p.name} is missing")
        if p.stat().st_size > LIMIT_BYTES:
            raise ValueError(f"{p.name} holds more than {LIMIT_BYTES >> 20} MB")
    try:
        with np.load(paths[1], allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        return _decode(json.loads(paths[0].read_text()), arrays)
    except Exception as err:
        raise ValueError(f"{paths[0].name} is malformed: {type(err).__name__}: {str(err)[:200]}") from None
