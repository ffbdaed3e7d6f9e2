"""The DLPack exchange (https://dmlc.github.io/dlpack/latest/), done with ctypes.

nsafuse borrows: it reads the DLTensor inside the capsule and keeps the
capsule alive while the kernel runs, but never consumes it (never renames it
"used_dltensor"), so the capsule's own destructor calls the producer's deleter
when nsafuse drops it. Both the legacy capsule ("dltensor", DLPack 0.6+) and
the versioned one ("dltensor_versioned", DLPack 1.x) are read."""

import ctypes

from ctypes import POINTER, c_int32, c_int64, c_uint8, c_uint16, c_uint32, c_uint64, c_void_p

from . import _lib
from ._lib import Error

# DLDeviceType
KDL_CPU, KDL_CUDA, KDL_CUDA_HOST, KDL_ROCM, KDL_ROCM_HOST, KDL_CUDA_MANAGED = 1, 2, 3, 10, 11, 13
# DLDataTypeCode
KDL_INT, KDL_UINT, KDL_FLOAT, KDL_BFLOAT, KDL_COMPLEX, KDL_BOOL, KDL_FLOAT8_E4M3FN = 0, 1, 2, 4, 5, 6, 10
READ_ONLY = 1  # DLPACK_FLAG_BITMASK_READ_ONLY
IS_COPIED = 2  # DLPACK_FLAG_BITMASK_IS_COPIED: writes would land in a copy

# (code, bits) -> nf_dtype
DTYPES = {
    (KDL_BFLOAT, 16): _lib.BF16,
    (KDL_FLOAT, 16): _lib.F16,
    (KDL_FLOAT, 32): _lib.F32,
    (KDL_FLOAT, 64): _lib.F64,
    (KDL_INT, 32): _lib.I32,
    (KDL_INT, 64): _lib.I64,
    (KDL_BOOL, 8): _lib.BOOL,
    (KDL_FLOAT8_E4M3FN, 8): _lib.F8E4M3,
}
_CODE_NAMES = {KDL_INT: "int", KDL_UINT: "uint", KDL_FLOAT: "float", KDL_BFLOAT: "bfloat", KDL_COMPLEX: "complex",
               KDL_BOOL: "bool"}

# DLDeviceType -> nf_device_kind; pinned and managed memory is addressable
# where its kind says.
DEVICES = {
    KDL_CPU: _lib.DEVICE_HOST,
    KDL_CUDA_HOST: _lib.DEVICE_HOST,
    KDL_ROCM_HOST: _lib.DEVICE_HOST,
    KDL_CUDA: _lib.DEVICE_CUDA,
    KDL_CUDA_MANAGED: _lib.DEVICE_CUDA,
    KDL_ROCM: _lib.DEVICE_HIP,
}


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", c_int32), ("device_id", c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", c_uint8), ("bits", c_uint8), ("lanes", c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", c_void_p),
        ("device", DLDevice),
        ("ndim", c_int32),
        ("dtype", DLDataType),
        ("shape", POINTER(c_int64)),
        ("strides", POINTER(c_int64)),
        ("byte_offset", c_uint64),
    ]


class DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", DLTensor), ("manager_ctx", c_void_p), ("deleter", c_void_p)]


class DLPackVersion(ctypes.Structure):
    _fields_ = [("major", c_uint32), ("minor", c_uint32)]


class DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [
        ("version", DLPackVersion),
        ("manager_ctx", c_void_p),
        ("deleter", c_void_p),
        ("flags", c_uint64),
        ("dl_tensor", DLTensor),
    ]


_get_name = ctypes.pythonapi.PyCapsule_GetName
_get_name.restype = ctypes.c_char_p
_get_name.argtypes = [ctypes.py_object]
_get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_get_pointer.restype = c_void_p
_get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]

# Types whose __dlpack__ refused max_version: asked the legacy way from then on.
_legacy_only = set()


def _capsule(obj, stream):
    kind = type(obj)
    if kind not in _legacy_only:
        try:
            return obj.__dlpack__(stream=stream, max_version=(1, 0))
        except TypeError:
            _legacy_only.add(kind)
    if stream is None:
        try:
            return obj.__dlpack__(stream=None)
        except TypeError:
            return obj.__dlpack__()  # a producer older than the stream argument
    return obj.__dlpack__(stream=stream)


def device_of(obj):
    """(nf_device_kind, device id) from __dlpack_device__, or None."""
    get = getattr(obj, "__dlpack_device__", None)
    if get is None:
        return None
    kind, index = get()
    return DEVICES.get(int(kind)), int(index)


def dtype_text(code, bits, lanes):
    name = _CODE_NAMES.get(code, f"type code {code}")
    return f"{name}{bits}" + (f"x{lanes}" if lanes != 1 else "")


def describe(obj, stream, what):
    """Reads obj through DLPack. Returns (capsule, data pointer, nf_dtype,
    shape, strides in elements, nf_device_kind, device id, read_only);
    read_only also when the producer exported a copy.
    stream is what the consumer passes to __dlpack__ (None on the host)."""
    try:
        capsule = _capsule(obj, stream)
    except (BufferError, RuntimeError, TypeError, ValueError) as e:
        raise Error(f"{what}: cannot read it through DLPack: {e}") from None
    name = _get_name(capsule)
    if name == b"dltensor_versioned":
        managed = DLManagedTensorVersioned.from_address(_get_pointer(capsule, name))
        if managed.version.major != 1:
            raise Error(f"{what}: DLPack version {managed.version.major}.{managed.version.minor} is not supported")
        read_only = bool(managed.flags & (READ_ONLY | IS_COPIED))
    elif name == b"dltensor":
        managed = DLManagedTensor.from_address(_get_pointer(capsule, name))
        read_only = False
    else:
        raise Error(f"{what}: __dlpack__ returned a capsule named {name!r}, not a DLPack tensor")
    t = managed.dl_tensor
    code, bits, lanes = t.dtype.code, t.dtype.bits, t.dtype.lanes
    dtype = DTYPES.get((code, bits)) if lanes == 1 else None
    if dtype is None:
        raise Error(f"{what}: dtype {dtype_text(code, bits, lanes)} is not one nsafuse computes with "
                    f"(bf16, f16, f32, f64, i32, i64, bool, f8e4m3)")
    device = DEVICES.get(t.device.device_type)
    if device is None:
        raise Error(f"{what}: DLPack device type {t.device.device_type} is not the host, CUDA or ROCm")
    rank = t.ndim
    if rank > _lib.MAX_DIMS:
        raise Error(f"{what}: rank {rank} is more than nsafuse's {_lib.MAX_DIMS} dimensions")
    shape = tuple(t.shape[i] for i in range(rank))
    if t.strides:
        strides = tuple(t.strides[i] for i in range(rank))
    else:
        strides = contiguous_strides(shape)
    data = (t.data or 0) + t.byte_offset
    return capsule, data, dtype, shape, strides, device, t.device.device_id, read_only


def contiguous_strides(shape):
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * max(shape[d + 1], 1)
    return tuple(strides)
