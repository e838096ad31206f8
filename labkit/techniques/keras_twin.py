"""The Keras twin: the same network rebuilt layer by layer in Keras (NHWC) with weights ported
from PyTorch (NCHW). No training of its own."""

from __future__ import annotations

import numpy as np
from torch import nn


def conv_kernel_to_keras(weight: np.ndarray) -> np.ndarray:
    """PyTorch conv weight (out, in, kh, kw) -> Keras kernel (kh, kw, in, out)."""
    return weight.transpose(2, 3, 1, 0)


def dense_after_flatten_to_keras(weight: np.ndarray, channels: int, height: int, width: int) -> np.ndarray:
    """The first Linear after Flatten: PyTorch flattens (C, H, W), Keras flattens (H, W, C), so the
    input features are reordered before the (out, in) -> (in, out) transpose."""
    out = weight.shape[0]
    return weight.reshape(out, channels, height, width).transpose(2, 3, 1, 0).reshape(-1, out)


def _layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if not list(m.children())]


def keras_twin(model: nn.Module, input_hw: tuple[int, int] = (28, 28)):
    """A Keras Functional model mirroring a Sequential-style torch CNN, with its weights ported."""
    import keras

    model = model.eval()
    inputs = keras.Input((*input_hw, 1), name="image")
    x, h, w, c = inputs, *input_hw, 1
    flattened_from = None
    for layer in _layers(model):
        if isinstance(layer, nn.Conv2d):
            k = layer.kernel_size[0]
            kernel = conv_kernel_to_keras(layer.weight.detach().numpy())
            weights = [kernel] if layer.bias is None else [kernel, layer.bias.detach().numpy()]
            conv = keras.layers.Conv2D(layer.out_channels, k, padding="same", use_bias=layer.bias is not None)
            x = conv(x)
            conv.set_weights(weights)
            c = layer.out_channels
        elif isinstance(layer, nn.BatchNorm2d):
            bn = keras.layers.BatchNormalization(epsilon=layer.eps)
            x = bn(x)
            bn.set_weights([t.detach().numpy() for t in
                            (layer.weight, layer.bias, layer.running_mean, layer.running_var)])
        elif isinstance(layer, nn.ReLU):
            x = keras.layers.ReLU()(x)
        elif isinstance(layer, nn.MaxPool2d):
            x = keras.layers.MaxPooling2D(layer.kernel_size)(x)
            h, w = h // layer.kernel_size, w // layer.kernel_size
        elif isinstance(layer, nn.Flatten):
            x = keras.layers.Flatten()(x)
            flattened_from = (c, h, w)
        elif isinstance(layer, nn.Linear):
            weight = layer.weight.detach().numpy()
            kernel = dense_after_flatten_to_keras(weight, *flattened_from) if flattened_from else weight.T
            flattened_from = None
            dense = keras.layers.Dense(layer.out_features)
            x = dense(x)
            dense.set_weights([kernel, layer.bias.detach().numpy()])
        elif isinstance(layer, nn.Dropout):
            x = keras.layers.Dropout(layer.p)(x)
        else:
            raise TypeError(f"keras_twin does not know how to port {type(layer).__name__}")
    return keras.Model(inputs, x, name=f"{type(model).__name__.lower()}_keras")
