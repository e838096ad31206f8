"""What a challenge's artifact does, observed: the one measuring path of every challenge, run in the learner's
kernel by `lk.challenges.judge` and, on a submitted file, inside the grader's sandboxed child (which loads this
file by its path, so it imports nothing from labkit; only numpy, onnx and onnxruntime).

`observe(data, requests)` parses the bytes as an ONNX model (weights inside the file, no external data), counts
the multiply-accumulates of its convolutions and matrix products per image, runs it in ONNX Runtime on each
request and returns plain values (numbers, text, arrays) that travel through `wire`. What the numbers mean is
judged elsewhere (`labkit.classroom.challenges.judging`), in the learner's kernel or the grader's own process."""

from __future__ import annotations

import os
import stat
from collections import Counter
from pathlib import Path

import numpy as np

MAX_BYTES = 256 << 20  # the largest artifact a challenge accepts (each challenge may set less)


class Refused(ValueError):
    """The artifact cannot be measured: the sentence says why and what to hand in instead."""


def read_artifact(path: str | Path, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of a handed-in artifact, read without following a link; Refused for a link, a folder, an empty
    or too large file."""
    path = Path(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise Refused(f"{path.name} was not found") from None
    if stat.S_ISLNK(info.st_mode):
        raise Refused(f"{path.name} is a link; hand in the file itself")
    if not stat.S_ISREG(info.st_mode):
        raise Refused(f"{path.name} is not a plain file")
    if info.st_size == 0:
        raise Refused(f"{path.name} is empty")
    if info.st_size > max_bytes:
        raise Refused(f"{path.name} holds {_amount(info.st_size)}, more than the {_amount(max_bytes)} this "
                      f"challenge accepts")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        return f.read(max_bytes + 1)


def _amount(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n:,} bytes"


def parse(data: bytes):
    """The ONNX model in `data`; Refused when it is not one, or keeps its weights in another file."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as err:
        raise Refused(f"the file is not an ONNX model ({type(err).__name__})") from None
    if not model.graph.node or not model.graph.input:
        raise Refused("the file is not an ONNX model with a graph (no nodes or no inputs)")
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        raise Refused("the model keeps its weights in a separate .data file; save it as one file "
                      "(torch.onnx.export(..., external_data=False) or onnx.save(model, path))")
    return model


def _dims(value_info) -> list:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
            for d in value_info.type.tensor_type.shape.dim]


def macs_per_image(model) -> int:
    """Multiply-accumulates of the Conv, Gemm, MatMul (and their quantized forms) of one image: the shapes are
    inferred with every symbolic input dimension set to 1."""
    import onnx

    m = onnx.ModelProto()
    m.CopyFrom(model)
    for inp in m.graph.input:
        for d in inp.type.tensor_type.shape.dim:
            if not d.HasField("dim_value"):
                d.Clear()
                d.dim_value = 1
    m = onnx.shape_inference.infer_shapes(m, data_prop=True)
    shapes = {v.name: _dims(v) for v in [*m.graph.value_info, *m.graph.input, *m.graph.output]}
    shapes.update({t.name: list(t.dims) for t in m.graph.initializer})

    def known(name: str) -> list[int] | None:
        s = shapes.get(name)
        return s if s and all(isinstance(d, int) for d in s) else None

    total = 0
    for node in m.graph.node:
        op = node.op_type
        if op in ("Conv", "QLinearConv", "ConvInteger"):
            w, out = known(node.input[3 if op == "QLinearConv" else 1]), known(node.output[0])
            if w and out:
                total += int(np.prod(out)) * int(np.prod(w[1:]))
        elif op in ("Gemm", "MatMul", "QLinearMatMul", "MatMulInteger", "MatMulNBits"):
            out = known(node.output[0])
            a = known(node.input[0])
            if out and a:
                k = a[-1]
                if op == "Gemm" and any(at.name == "transA" and at.i for at in node.attribute):
                    k = a[0]
                total += int(np.prod(out)) * int(k)
    return total


def _feed(session, request: dict) -> dict:
    """The inputs of one run: the request's arrays by input name ("" for the model's only input); an input it
    does not name gets zeros, each symbolic dimension 0 long (an empty cache). Refused when the model's inputs
    cannot take the request's arrays whatever the batch (another rank, another image size, more inputs)."""
    feeds = {}
    inputs = session.get_inputs()
    if "" in request and len(inputs) != 1:
        raise Refused(f"the model has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); this challenge "
                      f"feeds one, of shape (batch, {', '.join(map(str, request[''].shape[1:]))})")
    for inp in inputs:
        if inp.name in request or "" in request:
            feeds[inp.name] = given = request.get(inp.name, request.get(""))
            fixed = [d if isinstance(d, int) else None for d in inp.shape]
            ranks = len(fixed) == given.ndim  # a batch of another size is ONNX Runtime's to refuse, not ours
            if not ranks or any(d not in (None, n) for d, n in zip(fixed[1:], given.shape[1:], strict=True)):
                raise Refused(f"the model's input {inp.name} has shape {list(inp.shape)}; this challenge feeds "
                              f"arrays of shape (batch, {', '.join(map(str, given.shape[1:]))})")
        else:
            dtype = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
                     "tensor(float16)": np.float16}.get(inp.type, np.float32)
            feeds[inp.name] = np.zeros([d if isinstance(d, int) else 0 for d in inp.shape], dtype)
    return feeds


def observe(data: bytes, requests: dict[str, dict], output: str = "") -> dict:
    """Parse, count and run the artifact: {"bytes", "producer" (the tool that wrote it), "inputs" (name: dims),
    "ops" (op type: count), "macs", "outputs" (request name: first output, or `output` by name), "errors"
    (request name: what ONNX Runtime said),
    "refused" (request name: why the model's inputs cannot take it, so it did not run)}.
    Refused when the file is no ONNX model or ONNX Runtime cannot load it."""
    import onnxruntime as ort

    model = parse(data)
    try:
        macs = macs_per_image(model)
    except Exception:  # shape inference fails on a graph ORT may still run: the count is then unknown
        macs = -1
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    try:
        session = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    except Exception as err:
        raise Refused(f"ONNX Runtime cannot load the model: {str(err).splitlines()[0][:200]}") from None
    outputs, errors, refused = {}, {}, {}
    names = [o.name for o in session.get_outputs()]
    want = [output] if output in names else names[:1]
    for key, request in requests.items():
        try:
            feeds = _feed(session, request)
        except Refused as err:
            refused[key] = str(err)
            continue
        try:
            outputs[key] = np.asarray(session.run(want, feeds)[0])
        except Exception as err:
            errors[key] = str(err).splitlines()[0][:300]
    return {"bytes": len(data), "producer": model.producer_name,
            "inputs": {i.name: _dims(i) for i in model.graph.input},
            "ops": dict(Counter(n.op_type for n in model.graph.node)), "macs": macs, "outputs": outputs,
            "errors": errors, "refused": refused}
