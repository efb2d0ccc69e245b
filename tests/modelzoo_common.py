"""Deterministic weights and inputs for the model-zoo fixtures, shared by the generator
(run once with MXNet 1.9.1) and the tests (run with symnorm).

Values come from an integer hash of the position (uint32 arithmetic, which wraps the same
way on every numpy version), not from a random generator, so numpy 1.x under MXNet and
numpy 2.x here give bit-identical arrays, fast even for VGG's 133M parameters."""
from __future__ import annotations

import zlib

import numpy as np

MODELS = {  # name: input size
    "resnet18_v1": 224, "resnet18_v2": 224, "mobilenet1.0": 224, "mobilenetv2_1.0": 224,
    "squeezenet1.0": 224, "densenet121": 224, "vgg11_bn": 224, "alexnet": 224, "inceptionv3": 299,
}
BATCH = 1


def uniform(name: str, shape, lo=-0.5, hi=0.5) -> np.ndarray:
    """Pseudo-random values in [lo, hi) determined by ``name`` and position."""
    n = int(np.prod(shape)) if len(shape) else 1
    h = np.arange(n, dtype=np.uint32)
    h *= np.uint32(2654435761)
    h += np.uint32(zlib.crc32(name.encode()))
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x45D9F3B)
    h ^= h >> np.uint32(16)
    u = h.astype(np.float32)
    u *= np.float32((hi - lo) / 2.0 ** 32)
    u += np.float32(lo)
    return u.reshape(shape)


def param_value(name: str, shape) -> np.ndarray:
    if name.endswith("_weight"):
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else int(shape[0])
        return uniform(name, shape) * np.float32(np.sqrt(12.0 * 2.0 / fan_in))   # He-scaled
    if name.endswith("_gamma"):
        return uniform(name, shape, 0.8, 1.2)
    if name.endswith("_running_var") or name.endswith("_moving_var"):
        return uniform(name, shape, 0.8, 1.2)
    return uniform(name, shape, -0.1, 0.1)           # beta, bias, running/moving mean


def params_for(arg_names, arg_shapes, aux_names, aux_shapes, data="data"):
    arg = {k: param_value(k, s) for k, s in zip(arg_names, arg_shapes) if k != data}
    aux = {k: param_value(k, s) for k, s in zip(aux_names, aux_shapes)}
    return arg, aux


def input_for(name: str):
    size = MODELS[name]
    return uniform("input:" + name, (BATCH, 3, size, size), 0.0, 1.0)
