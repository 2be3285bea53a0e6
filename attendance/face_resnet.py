"""dlib's face recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`, as face_recognition
ships it), run with NumPy: the same weights, the same layers, the same 128-d embedding.

Why: the dlib wheel the project installs has no BLAS, so its convolutions cost ~100 ms of one core
per face; the same 0.5 GFLOP through NumPy's OpenBLAS (one thread) take a fifth of that. The
embedding agrees with dlib's to ~1e-6 (`tests/test_faces_resnet.py` compares them on real photos),
so every threshold measured with dlib holds.

The weights are read from dlib's own serialisation: tensors are stored as little-endian float32
after a header of dlib's packed integers; each convolution's shape, stride and padding are read
from the file and checked against the network the model was trained as (dlib's
`dnn_face_recognition_ex.cpp`):

    con 32 7×7 /2, affine, relu, max_pool 3×3 /2,
    3 × res 32, res_down 64 + 3 × res 64, res_down 128 + 2 × res 128, res_down 256 + 2 × res 256,
    res_down 256, avg_pool (everything), fc 128 (no bias)

where res is relu(x + affine(con(relu(affine(con(x)))))) and res_down adds a 2×2 average pool of x
(dlib's add_prev takes the larger of each dimension, the other tensor padded with zeros). The input
is the 150×150 RGB chip dlib's `get_face_chip` cuts along the 68 landmarks (padding 0.25), less the
mean colour, over 256.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]
CHIP = 150  # pixels: the network's input, and the chip dlib cuts for it
PADDING = 0.25  # dlib's default padding of the face chip (compute_face_descriptor's)
# bottom-up: (filters, first convolution's stride) of each residual block after the stem
BLOCKS = ((32, 1),) * 3 + ((64, 2),) + ((64, 1),) * 3 + ((128, 2),) + ((128, 1),) * 2 \
    + ((256, 2),) + ((256, 1),) * 2 + ((256, 2),)


class ModelFormatError(ValueError):
    """The model file is not the network this module runs."""


class _Reader:
    """dlib's serialisation: packed integers (a size byte, its bit 7 the sign, then little-endian
    bytes), strings (a packed length, then bytes) and tensors (header, then raw float32)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def find(self, name: bytes) -> None:
        mark = bytes([1, len(name)]) + name
        found = self.data.find(mark, self.at)
        if found < 0:
            raise ModelFormatError(f"no {name.decode()} layer where expected")
        self.at = found + len(mark)

    def int(self) -> int:
        size = self.data[self.at]
        raw = self.data[self.at + 1:self.at + 1 + (size & 0x0F)]
        self.at += 1 + (size & 0x0F)
        value = int.from_bytes(raw, "little")
        return -value if size & 0x80 else value

    def tensor(self) -> Array:
        if self.int() != 2:
            raise ModelFormatError("unknown tensor version")
        shape = tuple(self.int() for _ in range(4))
        count = shape[0] * shape[1] * shape[2] * shape[3]
        values = np.frombuffer(self.data, "<f4", count, self.at).astype(np.float32)
        self.at += 4 * count
        return values


@dataclass(frozen=True)
class _Conv:
    weights: Array  # (filters, channels × rows × cols), for one matrix product with the patches
    bias: Array  # (filters, 1)
    size: int
    stride: int
    padding: int
    channels: int


@dataclass(frozen=True)
class _Affine:
    gamma: Array  # (channels, 1)
    beta: Array


def _conv(reader: _Reader) -> _Conv:
    reader.find(b"con_4")
    params = reader.tensor()
    filters, rows, cols, stride_y, stride_x, pad_y, pad_x = (reader.int() for _ in range(7))
    if rows != cols or stride_y != stride_x or pad_y != pad_x:
        raise ModelFormatError("only square convolutions are expected")
    channels = (params.size - filters) // (filters * rows * cols)
    if channels * filters * rows * cols + filters != params.size:
        raise ModelFormatError("a convolution's weights do not match its shape")
    cut = channels * filters * rows * cols
    return _Conv(params[:cut].reshape(filters, cut // filters), params[cut:].reshape(filters, 1),
                 rows, stride_y, pad_y, channels)


def _affine(reader: _Reader, channels: int) -> _Affine:
    reader.find(b"affine_")
    params = reader.tensor()
    if params.size != 2 * channels:
        raise ModelFormatError("an affine layer does not match its convolution")
    return _Affine(params[:channels].reshape(channels, 1), params[channels:].reshape(channels, 1))


def _patches(x: Array, size: int, stride: int, padding: int) -> tuple[Array, int, int]:
    """im2col: every `size`×`size` window of (channels, H, W), as (channels × size × size, windows)."""
    if padding:
        x = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    channels, height, width = x.shape
    out_h, out_w = (height - size) // stride + 1, (width - size) // stride + 1
    view = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(1, 2))[:, ::stride, ::stride]
    cols = view[:, :out_h, :out_w].transpose(0, 3, 4, 1, 2).reshape(channels * size * size, out_h * out_w)
    return cols, out_h, out_w


class FaceResNet:
    """The network, loaded once (a worker process's models); `embed(chip)` → 128 float32."""

    def __init__(self, path: Path) -> None:
        reader = _Reader(path.read_bytes())
        reader.find(b"input_rgb_image_sized")
        self.mean = np.array([_float(reader) for _ in range(3)], dtype=np.float32).reshape(3, 1, 1)
        if (reader.int(), reader.int()) != (CHIP, CHIP):
            raise ModelFormatError(f"the network's input is not {CHIP}×{CHIP}")
        self.stem = _conv(reader)
        self.stem_affine = _affine(reader, self.stem.weights.shape[0])
        self.blocks: list[tuple[_Conv, _Affine, _Conv, _Affine]] = []
        channels = self.stem.weights.shape[0]
        for filters, stride in BLOCKS:
            first = _conv(reader)
            a1 = _affine(reader, filters)
            second = _conv(reader)
            a2 = _affine(reader, filters)
            if (first.channels, first.weights.shape[0], first.stride, second.stride) != (channels, filters, stride, 1):
                raise ModelFormatError("a residual block is not the one the model was trained as")
            self.blocks.append((first, a1, second, a2))
            channels = filters
        reader.find(b"fc_2")
        outputs, inputs = reader.int(), reader.int()
        fc = reader.tensor()
        if fc.size != outputs * inputs or inputs != channels:
            raise ModelFormatError("the last layer does not match the network")
        self.fc = fc.reshape(inputs, outputs)

    @staticmethod
    def _apply(conv: _Conv, affine: _Affine, x: Array) -> Array:
        cols, out_h, out_w = _patches(x, conv.size, conv.stride, conv.padding)
        y = conv.weights @ cols
        y += conv.bias
        y *= affine.gamma
        y += affine.beta
        return y.reshape(-1, out_h, out_w)

    def embed(self, chip: npt.NDArray[np.uint8]) -> Array:
        """The 128-d embedding of a 150×150 RGB face chip (from `dlib.get_face_chip`)."""
        if chip.shape != (CHIP, CHIP, 3):
            raise ValueError(f"a face chip is {CHIP}×{CHIP} RGB")
        x = (chip.transpose(2, 0, 1).astype(np.float32) - self.mean) / np.float32(256)
        x = np.maximum(self._apply(self.stem, self.stem_affine, x), 0)
        x = _max_pool(x, 3, 2)
        for first, a1, second, a2 in self.blocks:
            y = np.maximum(self._apply(first, a1, x), 0)
            y = self._apply(second, a2, y)
            if first.stride != 1:
                x = _avg_pool(x, 2, 2)
            x = np.maximum(_add(x, y), 0)
        pooled = x.reshape(x.shape[0], -1).mean(axis=1)
        out: Array = (pooled @ self.fc).astype(np.float32)
        return out


def _add(a: Array, b: Array) -> Array:
    """dlib's add_prev: the larger of each dimension, each tensor zero-padded to it."""
    if a.shape == b.shape:
        return a + b
    out = np.zeros(tuple(max(i, j) for i, j in zip(a.shape, b.shape, strict=True)), dtype=np.float32)
    out[:a.shape[0], :a.shape[1], :a.shape[2]] += a
    out[:b.shape[0], :b.shape[1], :b.shape[2]] += b
    return out


def _windows(x: Array, size: int, stride: int) -> Array:
    _, height, width = x.shape
    out_h, out_w = (height - size) // stride + 1, (width - size) // stride + 1
    view = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(1, 2))
    return view[:, ::stride, ::stride][:, :out_h, :out_w]


def _max_pool(x: Array, size: int, stride: int) -> Array:
    out: Array = _windows(x, size, stride).max(axis=(3, 4))
    return out


def _avg_pool(x: Array, size: int, stride: int) -> Array:
    out: Array = _windows(x, size, stride).mean(axis=(3, 4), dtype=np.float32)
    return out


def _float(reader: _Reader) -> float:
    """dlib's portable float: a packed mantissa and a packed exponent."""
    mantissa = reader.int()
    return float(mantissa * 2.0 ** reader.int())
