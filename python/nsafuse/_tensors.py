"""What nsafuse needs to know about an argument: pointer, dtype, shape,
strides, device; and how to allocate outputs in the caller's framework.

PyTorch tensors and NumPy arrays are read through their own attributes (a
cached call must stay within a few microseconds, and PyTorch 1.13 and NumPy
1.x cannot export bool through DLPack); every other object goes through
DLPack (_dlpack.py)."""

import sys

from . import _dlpack, _lib
from ._lib import Error

TORCH, NUMPY, CUPY, OTHER = "torch", "numpy", "cupy", "other"

# Exact types read through the fast paths, filled on first sight.
torch_types = set()
numpy_types = set()

_torch_dtypes = {}   # torch.dtype -> nf_dtype
_torch_of_nf = {}    # nf_dtype -> torch.dtype


def _torch():
    return sys.modules.get("torch")


def _numpy():
    return sys.modules.get("numpy")


def classify(obj):
    """TORCH, NUMPY or OTHER, remembering exact types for the fast path."""
    kind = type(obj)
    if kind in torch_types:
        return TORCH
    if kind in numpy_types:
        return NUMPY
    torch = _torch()
    if torch is not None and isinstance(obj, torch.Tensor):
        _init_torch(torch)
        torch_types.add(kind)
        return TORCH
    np = _numpy()
    if np is not None and isinstance(obj, np.ndarray):
        numpy_types.add(kind)
        return NUMPY
    return OTHER


def _init_torch(torch):
    if _torch_dtypes:
        return
    pairs = [("bfloat16", _lib.BF16), ("float16", _lib.F16), ("float32", _lib.F32), ("float64", _lib.F64),
             ("int32", _lib.I32), ("int64", _lib.I64), ("bool", _lib.BOOL), ("float8_e4m3fn", _lib.F8E4M3)]
    for name, nf in pairs:
        dt = getattr(torch, name, None)  # float8 arrived in torch 2.1
        if dt is not None:
            _torch_dtypes[dt] = nf
            _torch_of_nf[nf] = dt


class Meta:
    """An argument's signature: everything but its data pointer."""
    __slots__ = ("dtype", "shape", "strides", "device", "device_id", "read_only", "framework", "handle")

    def __init__(self, dtype, shape, strides, device, device_id, read_only, framework, handle):
        self.dtype = dtype          # nf_dtype
        self.shape = shape          # tuple of ints
        self.strides = strides      # tuple of ints, in elements
        self.device = device        # nf_device_kind
        self.device_id = device_id
        self.read_only = read_only
        self.framework = framework  # TORCH, NUMPY, CUPY, OTHER
        self.handle = handle        # what allocation needs: a torch.device, or the object itself

    def where(self):
        if self.device == _lib.DEVICE_HOST:
            return "the host"
        return f"{_lib.DEVICE_NAMES[self.device]}:{self.device_id}"


def torch_key(t):
    return (t.dtype, t.shape, t.stride(), t.device)


def numpy_key(a):
    return (a.dtype, a.shape, a.strides, a.flags.writeable)


def numpy_pointer(a):
    return a.__array_interface__["data"][0]


def _torch_meta(t, what):
    torch = _torch()
    if t.layout != torch.strided:
        raise Error(f"{what}: a {t.layout} tensor; nsafuse reads strided tensors only (call .to_dense())")
    dtype = _torch_dtypes.get(t.dtype)
    if dtype is None:
        raise Error(f"{what}: dtype {t.dtype} is not one nsafuse computes with "
                    f"(bfloat16, float16, float32, float64, int32, int64, bool, float8_e4m3fn)")
    if t.dim() > _lib.MAX_DIMS:
        raise Error(f"{what}: rank {t.dim()} is more than nsafuse's {_lib.MAX_DIMS} dimensions")
    dev = t.device
    if dev.type == "cpu":
        device, index = _lib.DEVICE_HOST, 0
    elif dev.type == "cuda":
        device = _lib.DEVICE_HIP if getattr(torch.version, "hip", None) else _lib.DEVICE_CUDA
        index = dev.index if dev.index is not None else torch.cuda.current_device()
    else:
        raise Error(f"{what}: the tensor is on {dev}; nsafuse runs on the host (cpu), CUDA and ROCm")
    return Meta(dtype, tuple(t.shape), tuple(t.stride()), device, index, False, TORCH, dev)


_NUMPY_KINDS = {("f", 2): _lib.F16, ("f", 4): _lib.F32, ("f", 8): _lib.F64, ("i", 4): _lib.I32,
                ("i", 8): _lib.I64, ("b", 1): _lib.BOOL}


def _numpy_meta(a, what):
    dt = a.dtype
    dtype = _NUMPY_KINDS.get((dt.kind, dt.itemsize))
    if dtype is None:
        raise Error(f"{what}: dtype {dt} is not one nsafuse computes with (float16, float32, float64, int32, int64, "
                    f"bool; NumPy has no bfloat16)")
    if not dt.isnative:
        raise Error(f"{what}: dtype {dt} is not in the machine's byte order (use .astype({dt.newbyteorder('=')}))")
    if a.ndim > _lib.MAX_DIMS:
        raise Error(f"{what}: rank {a.ndim} is more than nsafuse's {_lib.MAX_DIMS} dimensions")
    if any(s % dt.itemsize for s in a.strides):
        raise Error(f"{what}: strides {a.strides} (bytes) are not multiples of the element size {dt.itemsize}")
    strides = tuple(s // dt.itemsize for s in a.strides)
    return Meta(dtype, tuple(a.shape), strides, _lib.DEVICE_HOST, 0, not a.flags.writeable, NUMPY, None)


def meta_of(obj, kind, what):
    if kind == TORCH:
        return _torch_meta(obj, what)
    return _numpy_meta(obj, what)


def describe_other(obj, what, stream_for):
    """(capsule, pointer, Meta) of an object read through DLPack.
    stream_for(device kind) is the stream the kernel will run on, as DLPack
    wants it from the consumer (None on the host)."""
    if not hasattr(obj, "__dlpack__"):
        raise Error(f"{what}: expected a tensor (an object with __dlpack__, such as a torch.Tensor or a NumPy array), "
                    f"got {type(obj).__name__}")
    dev = _dlpack.device_of(obj)
    stream = stream_for(dev[0]) if dev and dev[0] is not None else None
    capsule, ptr, dtype, shape, strides, device, index, read_only = _dlpack.describe(obj, stream, what)
    module = type(obj).__module__.split(".")[0]
    framework = CUPY if module == "cupy" else OTHER
    return capsule, ptr, Meta(dtype, shape, strides, device, index, read_only, framework, obj)


def other_key(meta):
    return (OTHER, meta.dtype, meta.shape, meta.strides, meta.device, meta.device_id, meta.read_only)


# ---- output allocation -------------------------------------------------------

_ARRAY_API_NAMES = {_lib.BF16: "bfloat16", _lib.F16: "float16", _lib.F32: "float32", _lib.F64: "float64",
                    _lib.I32: "int32", _lib.I64: "int64", _lib.BOOL: "bool"}


def allocator(meta, shape, dtype, what):
    """A function returning (new output object, its data pointer), allocated
    in meta's framework on meta's device, contiguous."""
    if meta.framework == TORCH:
        torch = _torch()
        _init_torch(torch)
        tdt = _torch_of_nf.get(dtype)
        if tdt is None:
            raise Error(f"{what}: this PyTorch has no {_lib.DTYPE_NAMES[dtype]} dtype")
        # empty_strided: half the cost of torch.empty on a GPU (torch 2.11)
        device, empty, strides = meta.handle, torch.empty_strided, _dlpack.contiguous_strides(shape)

        def alloc_torch():
            o = empty(shape, strides, dtype=tdt, device=device)
            return o, o.data_ptr()
        return alloc_torch
    name = _ARRAY_API_NAMES.get(dtype)
    if meta.framework == NUMPY:
        np = _numpy()
        if dtype in (_lib.BF16, _lib.F8E4M3):
            raise Error(f"{what}: the output is {_lib.DTYPE_NAMES[dtype]}, which NumPy does not have; pass out= "
                        f"(a torch tensor, for example) or call with torch tensors")
        ndt = np.dtype(name)

        def alloc_numpy():
            o = np.empty(shape, ndt)
            return o, numpy_pointer(o)
        return alloc_numpy
    if meta.framework == CUPY:
        cupy = sys.modules["cupy"]
        if dtype in (_lib.BF16, _lib.F8E4M3):
            raise Error(f"{what}: the output is {_lib.DTYPE_NAMES[dtype]}, which CuPy does not have; pass out=")
        index = meta.device_id

        def alloc_cupy():
            with cupy.cuda.Device(index):
                o = cupy.empty(shape, dtype=name)
            return o, o.data.ptr
        return alloc_cupy
    xp_of = getattr(meta.handle, "__array_namespace__", None)
    if xp_of is not None and name is not None and hasattr(xp_of(), name):
        xp = xp_of()
        xdt, device = getattr(xp, name), getattr(meta.handle, "device", None)

        def alloc_array_api():
            o = xp.empty(shape, dtype=xdt, device=device)
            return o, _dlpack.describe(o, None, what)[1]
        return alloc_array_api
    raise Error(f"{what}: cannot allocate a {_lib.DTYPE_NAMES[dtype]} output in {type(meta.handle).__name__}; "
                f"pass out=")


# ---- streams -------------------------------------------------------------------

def stream_function(meta):
    """A function returning the stream to launch on (an int, 0 for the
    default stream): the caller's current stream in its framework."""
    if meta.device == _lib.DEVICE_HOST:
        return None
    if meta.framework == TORCH:
        torch = _torch()
        index = meta.device_id
        raw = getattr(torch._C, "_cuda_getCurrentRawStream", None)
        if raw is not None:
            return lambda: raw(index)
        return lambda: torch.cuda.current_stream(index).cuda_stream
    if meta.framework == CUPY:
        cupy = sys.modules["cupy"]
        return lambda: cupy.cuda.get_current_stream().ptr
    return lambda: 0


def dlpack_stream(stream, device):
    """The stream argument of __dlpack__ for a kernel launched on stream."""
    if device == _lib.DEVICE_HOST:
        return None
    if device == _lib.DEVICE_CUDA:
        return stream or 1  # 1: the legacy default stream (0 is not allowed)
    return stream or 0      # ROCm: 0 is the default stream
