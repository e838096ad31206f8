import json

import pytest

from labkit.core import ledger
from labkit.measure import bench, parity


def _ledger(tmp_path):
    return ledger.Ledger(tmp_path / "ledger.jsonl", {"notebook": "t", "target": "cpu", "profile": "smoke",
                                                     "seed": 0, "env": {"id": "x"}})


def test_rows_round_trip_with_every_design_field(tmp_path):
    led = _ledger(tmp_path)
    stats = bench.summarize("v", 64, [1.0, 2.0, 3.0])
    card = parity.card([[1.0, 0.0]], [[1.0, 0.0]])
    led.record("teacher", "baseline", runtime="onnxruntime", accuracy=0.9, latency=stats, parity=card)
    df = ledger.load(tmp_path)
    assert set(ledger.FIELDS) <= set(df.columns)
    row = df.iloc[0]
    assert row["batch"] == 64 and row["latency_ms_p50"] == 2.0 and row["parity_top1"] == 1.0


@pytest.mark.parametrize("kwargs, message", [
    ({"technique": "magic"}, "technique"),
    ({"technique": "baseline", "runtime": "tvm"}, "runtime"),
    ({"technique": "baseline", "precision": "int7"}, "precision"),
    ({"technique": "baseline", "accuracy": 91.0}, "fraction"),
])
def test_invalid_rows_are_refused(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _ledger(tmp_path).record("v", **kwargs)


def test_latency_batch_must_match(tmp_path):
    with pytest.raises(ValueError, match="measured at batch 64"):
        _ledger(tmp_path).record("v", "baseline", batch=1, latency=bench.summarize("v", 64, [1.0]))


def test_corrupt_ledger_line_is_reported(tmp_path):
    (tmp_path / "ledger.jsonl").write_text(json.dumps({"variant": "a"}) + "\n{oops\n")
    with pytest.raises(ValueError, match="ledger.jsonl:2"):
        ledger.load(tmp_path)


def test_missing_ledger_is_empty(tmp_path):
    assert ledger.load(tmp_path).empty
