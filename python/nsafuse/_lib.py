"""libnsafuse.so through ctypes: finding it, the C structs of include/nsafuse.h,
the function prototypes, and nsafuse.Error."""

import ctypes
import os

from ctypes import POINTER, c_bool, c_char, c_char_p, c_double, c_int, c_int64, c_size_t, c_void_p

MAX_DIMS = 8

# nf_dtype
BF16, F16, F32, F64, I32, I64, BOOL, F8E4M3 = range(8)
DTYPE_NAMES = ("bf16", "f16", "f32", "f64", "i32", "i64", "bool", "f8e4m3")
DTYPE_SIZES = (2, 2, 4, 8, 4, 8, 1, 1)
FLOAT_DTYPES = (BF16, F16, F32, F64, F8E4M3)

# nf_device_kind
DEVICE_HOST, DEVICE_CUDA, DEVICE_HIP = 0, 1, 2
DEVICE_NAMES = ("host", "cuda", "hip")


class Error(Exception):
    """An error from nsafuse: bad graph text, bad inputs, no device, a failed compile.

    status is the library's status name ("NF_ERR_PARSE", ...; "NF_ERR_ARG" for
    errors found by the Python layer); line and col locate the error in graph
    text (0 when the error is not about text); message is the text alone."""

    def __init__(self, message, status="NF_ERR_ARG", line=0, col=0):
        super().__init__(message)
        self.message = message
        self.status = status
        self.line = line
        self.col = col


class NfError(ctypes.Structure):
    _fields_ = [("status", c_int), ("line", c_int), ("col", c_int), ("message", c_char * 1024)]


class NfTensor(ctypes.Structure):
    _fields_ = [
        ("data", c_void_p),
        ("dtype", c_int),
        ("rank", c_int),
        ("shape", c_int64 * MAX_DIMS),
        ("strides", c_int64 * MAX_DIMS),
        ("device", c_int),
        ("device_id", c_int),
    ]


class NfBindings(ctypes.Structure):
    _fields_ = [("n", c_int), ("names", c_char_p * 16), ("sizes", c_int64 * 16)]


class NfCompileOptions(ctypes.Structure):
    _fields_ = [("target", c_char_p), ("keep_fp32", c_bool), ("unfused", c_bool), ("constant_inputs", ctypes.c_uint32)]


class NfKernelStats(ctypes.Structure):
    _fields_ = [
        ("kernels", c_int),
        ("compiled_signatures", c_int),
        ("last_compile_ms", c_double),
        ("last_from_disk_cache", c_bool),
        ("last_llvm_ms", c_double),
        ("last_driver_ms", c_double),
    ]


class NfTolerance(ctypes.Structure):
    _fields_ = [("atol", c_double), ("rtol", c_double)]


def _candidates():
    """Where libnsafuse.so may be: beside this package (meson install puts
    the package in libdir, so an installed package finds its own library),
    else $NSAFUSE_LIBRARY (a build tree)."""
    here = os.path.dirname(os.path.abspath(__file__))
    for folder in (here, os.path.dirname(here)):
        for name in ("libnsafuse.so", "libnsafuse.so.0"):
            yield os.path.join(folder, name)
    env = os.environ.get("NSAFUSE_LIBRARY")
    if env:
        yield env


def _load():
    tried = []
    for path in _candidates():
        if not os.path.exists(path):
            tried.append(path + " (missing)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append(f"{path} ({e})")
    raise ImportError(
        "nsafuse: cannot load libnsafuse.so; tried " + "; ".join(tried) +
        ". Install nsafuse with meson (the package goes beside the library) "
        "or set NSAFUSE_LIBRARY to the library's path")


lib, path = _load()
_libc = ctypes.CDLL(None)
_libc.free.argtypes = [c_void_p]
_libc.free.restype = None

_P_ERR = POINTER(NfError)
_P_TENSOR = POINTER(NfTensor)
_P_BIND = POINTER(NfBindings)


def _proto(name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


status_name = _proto("nf_status_name", c_char_p, c_int)
status_is_user_error = _proto("nf_status_is_user_error", c_bool, c_int)
graph_parse = _proto("nf_graph_parse", c_void_p, c_char_p, c_size_t, c_char_p, c_char_p, _P_ERR)
graph_list = _proto("nf_graph_list", c_void_p, c_char_p, c_size_t, _P_ERR)
graph_print = _proto("nf_graph_print", c_void_p, c_void_p)
graph_free = _proto("nf_graph_free", None, c_void_p)
graph_name = _proto("nf_graph_name", c_char_p, c_void_p)
graph_num_params = _proto("nf_graph_num_params", c_int, c_void_p)
graph_num_outputs = _proto("nf_graph_num_outputs", c_int, c_void_p)
graph_param = _proto("nf_graph_param", c_void_p, c_void_p, c_int)
graph_output = _proto("nf_graph_output", c_void_p, c_void_p, c_int)
graph_num_symbols = _proto("nf_graph_num_symbols", c_int, c_void_p)
graph_symbol = _proto("nf_graph_symbol", c_char_p, c_void_p, c_int)
graph_tolerance = _proto("nf_graph_tolerance", NfTolerance, c_void_p, c_int, c_double)
value_dtype = _proto("nf_value_dtype", c_int, c_void_p)
value_rank = _proto("nf_value_rank", c_int, c_void_p)
value_name = _proto("nf_value_name", c_char_p, c_void_p)
bind_from_inputs = _proto("nf_bind_from_inputs", c_int, c_void_p, _P_TENSOR, c_int, _P_BIND, _P_ERR)
output_shape = _proto("nf_output_shape", c_int, c_void_p, c_int, _P_BIND, POINTER(c_int), POINTER(c_int64), _P_ERR)
target_device = _proto("nf_target_device", c_bool, c_char_p, POINTER(c_int))
compile_options_init = _proto("nf_compile_options_init", None, POINTER(NfCompileOptions))
compile_graph = _proto("nf_compile", c_int, c_void_p, POINTER(NfCompileOptions), POINTER(c_void_p), _P_ERR)
kernel_free = _proto("nf_kernel_free", None, c_void_p)
kernel_run = _proto("nf_kernel_run", c_int, c_void_p, _P_TENSOR, c_int, _P_TENSOR, c_int, c_void_p, _P_ERR)
# The same function taking addresses as integers: the cheapest call ctypes makes.
kernel_run_raw = ctypes.cast(kernel_run, ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_int, c_void_p, c_int, c_void_p,
                                                           c_void_p))
kernel_dump = _proto("nf_kernel_dump", c_int, c_void_p, c_char_p, _P_BIND, POINTER(c_void_p), POINTER(c_size_t),
                     _P_ERR)
kernel_get_stats = _proto("nf_kernel_get_stats", None, c_void_p, POINTER(NfKernelStats))
kernel_constants_changed = _proto("nf_kernel_constants_changed", None, c_void_p)
kernel_prepare = _proto("nf_kernel_prepare", c_int, c_void_p, _P_BIND, c_int, c_int, _P_ERR)


STATUS_NAMES = ("NF_OK", "NF_ERR_PARSE", "NF_ERR_TYPE", "NF_ERR_ARG", "NF_ERR_UNSUPPORTED", "NF_ERR_NOMEM",
                "NF_ERR_IO", "NF_ERR_NO_DEVICE", "NF_ERR_DRIVER", "NF_ERR_COMPILE")


def error_from(err):
    """An Error carrying what the library wrote into an nf_error."""
    s = err.status
    status = STATUS_NAMES[s] if 0 <= s < len(STATUS_NAMES) else f"status {s}"
    return Error(err.message.decode("utf-8", "replace"), status, err.line, err.col)


def take_string(ptr):
    """The text of a malloc'd C string, which is then freed."""
    if not ptr:
        raise Error("out of memory", "NF_ERR_NOMEM")
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace")
    finally:
        _libc.free(ptr)


def take_bytes(ptr, size):
    try:
        return ctypes.string_at(ptr, size)
    finally:
        _libc.free(ptr)
