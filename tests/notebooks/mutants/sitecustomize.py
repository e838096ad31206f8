"""Deliberately broken changes for tests/notebooks/test_mutations.py: a kernel started with this folder on
PYTHONPATH and LABKIT_MUTATION=<name> runs its notebook with one realistic bug planted in a library the notebook
calls. The kit must notice: the notebook fails and `labkit verify` names the broken promise."""

import os

# what labkit/__init__.py sets, set before the imports below start any runtime's threads
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def quantizer_that_skips_every_node():
    """ONNX Runtime's 4-bit weight quantizer (MatMulNBitsQuantizer) leaving every node as it was, without a word:
    a node filter that matches nothing, so the "int4" file is the float one."""
    from onnxruntime.quantization import matmul_nbits_quantizer as q

    def quantize(self, node, graph_stack):
        return [node]

    q.DefaultWeightOnlyQuantizer.quantize = quantize


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


MUTATIONS = {f.__name__: f for f in (quantizer_that_skips_every_node, masking_pruner, runtime_in_half_precision)}
if os.environ.get("LABKIT_MUTATION") in MUTATIONS:
    MUTATIONS[os.environ["LABKIT_MUTATION"]]()
