"""Deliberately broken changes for tests/notebooks/test_mutations.py: a kernel started with this folder on
PYTHONPATH and LABKIT_MUTATION=<name> runs its notebook with one realistic bug planted in a library the notebook
calls. The kit must notice: the notebook fails and `labkit verify` names the broken promise."""

import os

# what labkit/__init__.py sets, set before the imports below start any runtime's threads
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def blank_calibration():
    """ONNX Runtime static quantization calibrated on blank images (a data reader that lost its data)."""
    import numpy as np
    import onnxruntime.quantization as q

    real = q.quantize_static

    class Blank(q.CalibrationDataReader):
        def __init__(self, reader):
            self.reader = reader

        def get_next(self):
            batch = self.reader.get_next()
            return None if batch is None else {k: np.zeros_like(v) for k, v in batch.items()}

        def rewind(self):
            self.reader.rewind()

    def quantize_static(model_input, model_output, calibration_data_reader, *args, **kwargs):
        return real(model_input, model_output, Blank(calibration_data_reader), *args, **kwargs)

    q.quantize_static = quantize_static


def masking_pruner():
    """A channel pruner that only zeroes the weakest output channels and removes nothing."""
    import torch
    import torch_pruning as tp

    def step(self, interactive=False):
        with torch.no_grad():
            for m in self.model.modules():
                if isinstance(m, torch.nn.Conv2d):
                    norms = m.weight.flatten(1).norm(dim=1)
                    m.weight[norms.argsort()[: int(len(norms) * getattr(self, "pruning_ratio", 0.5))]] = 0

    tp.pruner.MetaPruner.step = step


def runtime_in_half_precision():
    """ONNX Runtime that computes in float16 by itself, float32 only at the model's inputs and outputs (as an
    execution provider may choose a lower precision than the model asks for)."""
    import warnings

    import onnx
    import onnxruntime as ort
    from onnxconverter_common import float16

    real = ort.InferenceSession.__init__

    def init(self, path_or_bytes, *args, **kwargs):
        model = onnx.load(path_or_bytes) if isinstance(path_or_bytes, (str, os.PathLike)) else \
            onnx.load_from_string(path_or_bytes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # weights below float16's range are truncated
            half = float16.convert_float_to_float16(model, keep_io_types=True)
        real(self, half.SerializeToString(), *args, **kwargs)

    ort.InferenceSession.__init__ = init


MUTATIONS = {f.__name__: f for f in (blank_calibration, masking_pruner, runtime_in_half_precision)}
if os.environ.get("LABKIT_MUTATION") in MUTATIONS:
    MUTATIONS[os.environ["LABKIT_MUTATION"]]()
