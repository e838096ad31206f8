"""Size accounting, in one place: the bytes an artifact takes on disk (every file it consists of) and the
bytes a torch model's weights take when saved."""

from __future__ import annotations

import io
from pathlib import Path


def artifact_files(path: str | Path) -> dict[str, int]:
    """Every file an artifact consists of, with its size in bytes: an ONNX model and its external
    `.data` file, an OpenVINO IR's `.xml` and `.bin`, or the files of a folder (SavedModel)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run the cell that writes it first.")
    if path.is_dir():
        return {str(p.relative_to(path)): p.stat().st_size for p in sorted(path.rglob("*")) if p.is_file()}
    files = [path]
    if path.suffix == ".onnx":
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        names = {entry.value for init in model.graph.initializer for entry in init.external_data
                 if entry.key == "location"}
        files += [path.parent / name for name in sorted(names)]
    elif path.suffix == ".xml":
        files.append(path.with_suffix(".bin"))
    return {p.name: p.stat().st_size for p in files if p.exists()}


def artifact_size(path: str | Path) -> int:
    """Bytes on disk of an artifact: every file it consists of (see `artifact_files`)."""
    return sum(artifact_files(path).values())


def state_dict_bytes(model_or_state) -> bytes:
    """The bytes `torch.save(model.state_dict(), f)` writes (masks included if still attached)."""
    import torch

    state = model_or_state.state_dict() if hasattr(model_or_state, "state_dict") else model_or_state
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def torch_bytes(model_or_state) -> int:
    """Bytes of `torch.save(state_dict)`: the on-disk size of a torch model's weights, whatever
    their dtype (int8 packed weights and quantization parameters included)."""
    return len(state_dict_bytes(model_or_state))


def graph_bytes(gm) -> int:
    """Bytes of `torch.save` of the tensors an FX GraphModule's graph actually reads (its get_attr
    nodes). A pt2e-converted model still carries the unused fp32 weights as attributes, so its
    state_dict overstates what a deployment needs; this counts only the int8 weights and the
    quantization parameters the graph uses."""
    import torch

    if not hasattr(gm, "graph"):
        raise TypeError(f"expected a torch.fx.GraphModule, got {type(gm).__name__}")
    used = {}
    for node in gm.graph.nodes:
        if node.op == "get_attr":
            obj = gm
            for part in str(node.target).split("."):
                obj = getattr(obj, part)
            if isinstance(obj, torch.Tensor):
                used[str(node.target)] = obj
    return torch_bytes(used)
