"""One interface to run any artifact on a batch of NCHW float32 numpy images and get logits:
torch eager or compiled, a .pt2 ExportedProgram, ONNX Runtime, OpenVINO, Keras/SavedModel, LiteRT, ExecuTorch."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labkit.core import native_logs, registry
from labkit.core.batches import in_batches
from labkit.core.models import INPUT_SHAPE
from labkit.core.targets import Target
from labkit.measure.sizes import artifact_size

# The largest batch a runner passes to its runtime in one call (runtimes keep buffers sized for the
# largest batch they have seen, so one 10k-image call can cost gigabytes per loaded model).
MAX_CHUNK = 1024


# The size ExecuTorch's thread pool was given in this process (empty until executorch_pool sizes it, once).
_EXECUTORCH_POOL: list[int] = []


class ArtifactError(RuntimeError):
    """An artifact is missing, of an unknown kind, or unreadable."""


@dataclass
class Runner:
    """A callable model: NCHW float32 images in, float32 logits out."""

    name: str
    runtime: str
    fn: Callable[[np.ndarray], np.ndarray]
    path: Path | None = None
    info: dict = field(default_factory=dict)
    precision: str = "fp32"  # the arithmetic the runtime actually runs in, not what was asked for

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Logits for `x`; large batches run in chunks of MAX_CHUNK, so memory stays bounded and
        artifacts with a bounded batch dimension (a .pt2 exported with max=1024) accept any size."""
        check_input(x)
        x = np.ascontiguousarray(x, dtype=np.float32)
        if not len(x):  # some runtimes (OpenVINO) refuse an empty batch: learn the output width from one image
            width = np.asarray(self.fn(np.zeros((1, *INPUT_SHAPE), np.float32))).shape[1:]
            return np.zeros((0, *width), np.float32)
        return in_batches(self.fn, x, MAX_CHUNK).astype(np.float32, copy=False)

    @property
    def size_bytes(self) -> int | None:
        return artifact_size(self.path) if self.path else None


def check_input(x: np.ndarray) -> None:
    """Raise ValueError unless `x` is a batch of normalised images shaped (N, 1, 28, 28)."""
    if not isinstance(x, np.ndarray):
        raise ValueError(f"expected a numpy array, got {type(x).__name__}")
    if x.ndim != 4 or tuple(x.shape[1:]) != INPUT_SHAPE:
        hint = " (NHWC? transpose with x.transpose(0, 3, 1, 2))" if x.shape[-1:] == (1,) else ""
        raise ValueError(f"expected images shaped (N, 1, 28, 28) in NCHW layout, got {x.shape}{hint}")


def _require(path: Path) -> Path:
    if not path.exists():
        raise ArtifactError(f"{path} does not exist; run the cell that creates it first.")
    return path


def torch_runner(model, target: Target, name: str = "torch", compiled: bool = False) -> Runner:
    """Eager torch (or `torch.compile`d, one static graph per batch size) on the target's device."""
    import torch

    torch.set_num_threads(target.threads)
    device = torch.device(target.device("torch"))
    try:
        model = model.eval()
    except NotImplementedError:  # a loaded ExportedProgram's .module() has no eval(); it is already inference-only
        pass
    model = model.to(device)
    module = torch.compile(model, dynamic=False) if compiled else model

    @torch.no_grad()
    def run(x: np.ndarray) -> np.ndarray:
        return module(torch.from_numpy(x).to(device)).float().cpu().numpy()

    return Runner(name, "torch-compiled" if compiled else "torch", run)


def pt2_runner(path: str | Path, target: Target, name: str = "torch.export") -> Runner:
    """A saved ExportedProgram (.pt2), run as a module."""
    import torch

    path = _require(Path(path))
    try:
        module = torch.export.load(str(path)).module()
    except Exception as err:
        raise ArtifactError(f"{path} is not a readable .pt2 ExportedProgram ({err}).") from err
    runner = torch_runner(module, target, name)
    runner.path = path
    return runner


def ort_session(path: str | Path, target: Target, opt_level: str = "all", spinning: bool = False,
                profile_prefix: str | None = None):
    """An InferenceSession with the target's providers and threads, spinning off by default; with
    `profile_prefix`, ONNX Runtime's profiler writes its events to a file starting with it."""
    import onnxruntime as ort

    path = _require(Path(path))
    levels = {
        "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    if opt_level not in levels:
        raise ValueError(f"opt_level must be one of {', '.join(levels)}, not {opt_level!r}")
    so = ort.SessionOptions()
    so.graph_optimization_level = levels[opt_level]
    so.intra_op_num_threads = target.threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    if profile_prefix is not None:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    try:
        return ort.InferenceSession(str(path), so, providers=list(target.devices("onnxruntime")))
    except Exception as err:
        raise ArtifactError(f"ONNX Runtime cannot load {path}: {err}") from err


def ort_runner(path: str | Path, target: Target, name: str = "onnxruntime", **session_opts) -> Runner:
    """An ONNX model in ONNX Runtime."""
    sess = ort_session(path, target, **session_opts)
    inp = sess.get_inputs()[0].name

    def run(x: np.ndarray) -> np.ndarray:
        return sess.run(None, {inp: x})[0]

    return Runner(name, "onnxruntime", run, Path(path), {"providers": sess.get_providers(), **session_opts})


# The kit's precision names -> OpenVINO's INFERENCE_PRECISION_HINT values, and back.
OPENVINO_PRECISIONS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}


def openvino_core():
    """`ov.Core()`, capped like the CPU personality in force (labkit.cpu), if any."""
    import openvino as ov

    from labkit.core.cpu import personality

    core = ov.Core()
    forced = personality()
    if forced is not None and forced.openvino:
        core.set_property("CPU", dict(forced.openvino))
    return core


def openvino_precision(compiled_or_core, device: str = "CPU") -> str:
    """The kit's name for the precision a compiled model runs in (or that a Core would pick by default)."""
    if hasattr(compiled_or_core, "create_infer_request"):
        hint = compiled_or_core.get_property("INFERENCE_PRECISION_HINT")
    else:
        hint = compiled_or_core.get_property(device, "INFERENCE_PRECISION_HINT")
    back = {v: k for k, v in OPENVINO_PRECISIONS.items()}
    return back.get(hint.get_type_name(), hint.get_type_name())


def openvino_runner(model: str | Path | object, target: Target, name: str = "openvino",
                    precision: str | None = "fp32") -> Runner:
    """An ONNX file (or an `ov.Model` from `ov.convert_model`) compiled by OpenVINO.

    OpenVINO's CPU plugin runs bf16 by default on CPUs with native bf16 (AVX512_BF16, AMX), so the
    runner asks for `precision` explicitly ("fp32", "bf16" or "fp16"; None keeps OpenVINO's own choice)
    and records what the compiled model really runs in as `runner.precision`."""
    core = openvino_core()
    config = {"INFERENCE_NUM_THREADS": target.threads, "PERFORMANCE_HINT": "LATENCY"}
    if precision is not None:
        if precision not in OPENVINO_PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(OPENVINO_PRECISIONS)} or None, not {precision!r}")
        config["INFERENCE_PRECISION_HINT"] = OPENVINO_PRECISIONS[precision]
    path = None
    if isinstance(model, (str, Path)):
        path = _require(Path(model))
        model = str(path)
    try:
        compiled = core.compile_model(model, target.device("openvino"), config)
    except Exception as err:
        raise ArtifactError(f"OpenVINO cannot compile {path or 'the model'}: {err}") from err
    request = compiled.create_infer_request()

    def run(x: np.ndarray) -> np.ndarray:
        return request.infer({0: x})[0].copy()

    return Runner(name, "openvino", run, path, {"asked": precision}, precision=openvino_precision(compiled))


def nchw_to_nhwc(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N, H, W, C), the layout Keras, TFLite and tf2onnx graphs take."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"expected a 4-D NCHW batch, got shape {x.shape}")
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1), dtype=np.float32)


def keras_runner(model_or_path, target: Target, name: str = "keras") -> Runner:
    """A Keras model (or a .keras file) called in inference mode on NHWC input."""
    import keras
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(target.threads)
    except RuntimeError:  # TensorFlow fixes its thread pools once it has run anything
        pass
    path = None
    if isinstance(model_or_path, (str, Path)):
        path = _require(Path(model_or_path))
        try:
            model_or_path = keras.saving.load_model(path)
        except Exception as err:
            raise ArtifactError(f"{path} is not a readable .keras file ({err}).") from err
    model = model_or_path
    call = tf.function(lambda t: model(t, training=False), reduce_retracing=True)

    def run(x: np.ndarray) -> np.ndarray:
        return call(tf.constant(nchw_to_nhwc(x))).numpy()

    return Runner(name, "tensorflow", run, path)


def savedmodel_runner(path: str | Path, target: Target, name: str = "savedmodel") -> Runner:
    """A SavedModel folder (from `model.export`) through its serving signature."""
    import tensorflow as tf

    path = _require(Path(path))
    try:
        loaded = tf.saved_model.load(str(path))
        serve = loaded.signatures["serving_default"]
    except Exception as err:
        raise ArtifactError(f"{path} is not a readable SavedModel ({err}).") from err

    def run(x: np.ndarray) -> np.ndarray:
        out = serve(tf.constant(nchw_to_nhwc(x)))
        return next(iter(out.values())).numpy()

    runner = Runner(name, "tensorflow", run, path)
    runner.info["keep_alive"] = loaded
    return runner


def litert_runner(path: str | Path, target: Target, name: str = "litert") -> Runner:
    """A .tflite model in the LiteRT interpreter; quantised inputs and outputs are handled. A model converted
    with a fixed batch (litert-torch) runs other batch sizes in chunks of that batch, the last one padded."""
    from ai_edge_litert.interpreter import Interpreter

    path = _require(Path(path))
    try:
        interp = Interpreter(model_path=str(path), num_threads=target.threads)
    except Exception as err:
        raise ArtifactError(f"{path} is not a readable .tflite model ({err}).") from err
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    planned = int(inp["shape_signature"][0])  # -1: a dynamic batch; else the batch the model was converted at
    state = {"batch": None}

    def call(x: np.ndarray) -> np.ndarray:
        if state["batch"] != len(x):
            with native_logs.quiet():  # "Created TensorFlow Lite XNNPACK delegate for CPU."
                interp.resize_tensor_input(inp["index"], [len(x), *x.shape[1:]])
                interp.allocate_tensors()
            state["batch"] = len(x)
        scale, zero = inp["quantization"]
        if scale:
            x = np.clip(np.round(x / scale + zero), *_int_range(inp["dtype"])).astype(inp["dtype"])
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        y = interp.get_tensor(out["index"])
        scale, zero = out["quantization"]
        return (y.astype(np.float32) - zero) * scale if scale else y

    def run(x: np.ndarray) -> np.ndarray:
        x = nchw_to_nhwc(x)
        return call(x) if planned < 1 else in_batches(call, x, planned, pad=True)

    info = {"input_dtype": np.dtype(inp["dtype"]).name, "planned_batch": planned if planned > 0 else None}
    return Runner(name, "litert", run, path, info)


def executorch_pool(threads: int) -> int:
    """Size ExecuTorch's thread pool (one per process, shared by every program) to `threads`, once: resizing it
    later frees the pool the delegates of loaded programs hold, and a later call or clean-up crashes the process.
    Call it before loading a program by hand; returns the size in force."""
    from executorch.extension.pybindings import portable_lib

    if not _EXECUTORCH_POOL:
        with native_logs.quiet(python_streams=True):  # start-up lines (ARM CPU identification files, its size)
            if portable_lib._threadpool_get_thread_count() != threads:
                portable_lib._unsafe_reset_threadpool(threads)
        _EXECUTORCH_POOL.append(threads)
    return _EXECUTORCH_POOL[0]


def executorch_runner(path: str | Path, target: Target, name: str = "executorch",
                      bounded_batch: bool = False) -> Runner:
    """A .pte program in ExecuTorch's Python runtime (the same C++ runtime a phone app links), on
    `target.threads` threads of its thread pool (sized once per process by `executorch_pool`;
    `runner.info["threads"]` says what a program really runs on). Its input shape is planned at export
    (`runner.info["planned_batch"]`): a program with a fixed batch runs a batch of another size in chunks of that
    batch, the last one padded; one exported with a dynamic batch bounded by it (`bounded_batch=True`, memory
    planned for the bound: the .pte does not say which) runs any batch up to the bound as it is."""
    import torch
    from executorch.runtime import Runtime

    path = _require(Path(path))
    threads = executorch_pool(target.threads)
    if threads != target.threads:
        warnings.warn(f"ExecuTorch's thread pool was sized to {threads} thread(s) in this process and cannot be "
                      f"resized safely; {path.name} runs on those, not on the {target.threads} asked for.",
                      stacklevel=2)
    try:
        program = Runtime.get().load_program(str(path))  # must outlive its methods: they point into it
        method = program.load_method("forward")
    except Exception as err:
        raise ArtifactError(f"{path} is not a readable ExecuTorch program ({err}).") from err
    planned = int(method.metadata.input_tensor_meta(0).sizes()[0])

    def call(x: np.ndarray) -> np.ndarray:
        return method.execute([torch.from_numpy(x)])[0].numpy().copy()

    def run(x: np.ndarray) -> np.ndarray:
        return in_batches(call, x, planned, pad=not bounded_batch)

    return Runner(name, "executorch", run, path, {"planned_batch": planned, "threads": threads, "keep_alive": program})


def coreml_runner(path: str | Path, target: Target, name: str = "coreml") -> Runner:
    """An .mlpackage in Core ML, on the target's compute units. Core ML runs models only on macOS (and iOS):
    elsewhere this raises ArtifactError saying so; coremltools still converts and inspects models there."""
    import platform

    import coremltools as ct

    path = _require(Path(path))
    if platform.system() != "Darwin":
        raise ArtifactError(f"{path.name}: Core ML runs models only on macOS and iOS, not on {platform.system()}; "
                            "inspect it with coremltools.models.MLModel(path).get_spec() instead.")
    try:
        model = ct.models.MLModel(str(path), compute_units=getattr(ct.ComputeUnit, target.device("coreml")))
    except Exception as err:
        raise ArtifactError(f"{path} is not a readable Core ML model ({err}).") from err
    inp = model.get_spec().description.input[0].name

    def call(x: np.ndarray) -> np.ndarray:
        return np.asarray(next(iter(model.predict({inp: x}).values())), np.float32)

    return Runner(name, "coreml", lambda x: in_batches(call, x, 1), path)


def by_batch(runners: dict[int, Runner], name: str) -> Runner:
    """One Runner over programs planned for different batch sizes ({batch: runner}): a call goes to the
    program planned for its batch size, else to the one planned for the largest batch (in chunks)."""
    if not runners:
        raise ValueError("by_batch needs at least one runner")
    largest = runners[max(runners)]

    def run(x: np.ndarray) -> np.ndarray:
        return runners.get(len(x), largest)(x)

    first = runners[min(runners)]
    return Runner(name, first.runtime, run, first.path, {"batches": sorted(runners)}, precision=first.precision)


def _int_range(dtype) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return info.min, info.max


def load(path: str | Path, target: Target, runtime: str | None = None, name: str | None = None, **opts) -> Runner:
    """Pick the runner for an artifact by its kind (.pt2, .onnx, .keras, a SavedModel folder, .tflite, .pte,
    .mlpackage), from the runtimes that load it (labkit.core.registry); `runtime` picks another than the default
    (.onnx: "openvino")."""
    path = _require(Path(path))
    kind = path.suffix if path.suffix in registry.artifact_kinds() else "savedmodel" if path.is_dir() else path.suffix
    able = registry.loaders(kind)
    if not able:
        kinds = ", ".join(registry.artifact_kinds())
        raise ArtifactError(f"{path}: unknown artifact kind {kind!r}; the kit runs {kinds}.")
    if runtime is not None and runtime not in able:
        raise ArtifactError(f"{path}: {runtime!r} does not run {kind} artifacts; use {' or '.join(map(repr, able))}.")
    chosen = able[runtime] if runtime else next(iter(able.values()))
    return chosen.factory(kind)(path, target, name=name or path.name, **opts)
