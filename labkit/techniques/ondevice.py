"""On-device artifacts: ExecuTorch programs (.pte) lowered to the XNNPACK delegate and what the delegate took.

An on-device program has its memory planned at export, for a fixed batch or for a dynamic batch with an upper
bound: `program_runner` makes one program whose batch is bounded by the largest the kit measures (64), which runs
batch 1 (the on-device case) and batch 64 alike."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def example(x: np.ndarray, batch: int):
    """The first `batch` images as a fresh torch tensor. ExecuTorch derives each tensor's dim order from its
    strides and refuses a stride of 0, which numpy may give a size-1 axis (the kit's cached images have it)."""
    import torch

    if not 1 <= batch <= len(x):
        raise ValueError(f"batch must be between 1 and {len(x)} (the images given), got {batch}")
    return torch.from_numpy(np.array(x[:batch], dtype=np.float32))


def to_pte(program, path: str | Path) -> Path:
    """Lower an ExportedProgram with the XNNPACK partitioner and write its .pte file; returns the path."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    path = Path(path)
    edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    path.write_bytes(edge.to_executorch().buffer)
    return path


def delegation(edge):
    """Per ATen op type of a lowered program: how often the delegate took it and how often it stayed
    on ExecuTorch's portable kernels (a DataFrame, ops the delegate left out first)."""
    from executorch.devtools.backend_debug import get_delegation_info

    df = get_delegation_info(edge.exported_program().graph_module).get_operator_delegation_dataframe()
    df = df[~df["op_type"].isin(["Total", "getitem", "sym_size"])]  # bookkeeping, not computation
    df = df.rename(columns={"occurrences_in_delegated_graphs": "delegated",
                            "occurrences_in_non_delegated_graphs": "not delegated"})
    return df.sort_values(["not delegated", "op_type"], ascending=[False, True]).reset_index(drop=True)


def mlprogram_ops(mlmodel) -> Counter:
    """The operation types of a Core ML ML program (a coremltools MLModel), counted over all its functions."""
    program = mlmodel.get_spec().mlProgram
    return Counter(op.type for function in program.functions.values()
                   for block in function.block_specializations.values() for op in block.operations)


@contextmanager
def packages_hidden(*names: str) -> Iterator[None]:
    """Within the block, `import <name>` (or any of its submodules) raises ImportError as if the package were not
    installed. For a library that imports every framework it could convert from at its own import: coremltools
    imports TensorFlow and scikit-learn (seconds each) only to offer their converters. A package already imported
    stays visible; after the block each hidden one imports again as usual."""
    hidden = [n for n in names if n not in sys.modules]
    for n in hidden:
        sys.modules[n] = None  # the import system's mark for "not importable"
    try:
        yield
    finally:
        for n in hidden:
            if sys.modules.get(n, ...) is None:  # still the mark, not a module imported since
                del sys.modules[n]


def program_runner(module, images: np.ndarray, batches, stem: str | Path, target, name: str):
    """`module` exported once with a batch dimension bounded by the largest of `batches` and lowered to XNNPACK
    (file `<stem>.pte`, memory planned for that bound; example inputs from `images`), as one ExecuTorch Runner that
    takes any batch up to the bound as it is."""
    import torch

    from labkit.measure import runtimes

    bound = max(batches)
    # exported at the bound itself: exported from a smaller batch, the program's bound can come out lower
    dynamic = ({0: torch.export.Dim("batch", min=1, max=bound)},) if bound > 1 else None
    ep = torch.export.export(module, (example(images, bound),), dynamic_shapes=dynamic)
    return runtimes.executorch_runner(to_pte(ep, f"{stem}.pte"), target, name=name, bounded_batch=dynamic is not None)


def quantize_xnnpack(module, calib: np.ndarray, calib_batch: int = 64):
    """pt2e int8 for XNNPACK: `module` captured with a dynamic batch, observers placed by `XNNPACKQuantizer`
    (symmetric, per-channel weights), calibrated on `calib` (real training images), converted. The result
    exports to a .pte like any module (`program_runner`)."""
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from labkit.core.batches import in_batches, torch_fn

    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    batch = torch.export.Dim("batch", min=1, max=1024)
    captured = torch.export.export(module, (example(calib, 2),), dynamic_shapes=({0: batch},)).module()
    prepared = prepare_pt2e(captured, quantizer)
    in_batches(torch_fn(prepared), calib, calib_batch)
    return convert_pt2e(prepared)
