"""Objects nsafuse knows only through DLPack: wrappers that hide a torch
tensor or a NumPy array behind __dlpack__, and a producer written here with
ctypes that uses byte_offset, NULL strides, the versioned capsule and its
read-only flag. The producer's deleter must run exactly once, after the call."""

import ctypes
import gc

import numpy as np
import pytest

import nsafuse
from nsafuse import _dlpack
from nfcheck import assert_matches

try:
    import torch
except ImportError:
    torch = None


class Hidden:
    """Only __dlpack__ and __dlpack_device__ of the object inside."""

    def __init__(self, inner):
        self.inner = inner
        self.streams = []

    def __dlpack__(self, stream=None):
        self.streams.append(stream)
        return self.inner.__dlpack__() if stream is None else self.inner.__dlpack__(stream=stream)

    def __dlpack_device__(self):
        return self.inner.__dlpack_device__()


ADD = "graph a(%a: f32[N, M], %b: f32[M]) {\n  %o = add(%a, %b)\n  %m = mul(%o, 0.5)\n  return %m\n}\n"


def test_objects_seen_only_through_dlpack():
    k = nsafuse.compile(ADD)
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = np.array([1, 2, 3, 4], np.float32)
    want = (a + b) * np.float32(0.5)
    out = np.full((3, 4), np.nan, np.float32)
    assert k(Hidden(a), Hidden(b), out=Hidden(out)).inner is out
    assert np.array_equal(out, want)
    wrapped = Hidden(a.T.copy().T)  # column-major strides through DLPack
    assert np.array_equal(k(wrapped, b), want)
    assert wrapped.streams == [None]  # host memory: no stream to synchronise


def test_outputs_go_to_a_framework_among_the_inputs_or_need_out():
    k = nsafuse.compile(ADD)
    o = k(Hidden(np.ones((2, 4), np.float32)), np.ones(4, np.float32))
    assert isinstance(o, np.ndarray) and o.tolist() == [[1.0] * 4] * 2
    with pytest.raises(nsafuse.Error) as e:
        k(Hidden(np.ones((2, 4), np.float32)), Hidden(np.ones(4, np.float32)))
    assert "out=" in str(e.value)


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_torch_through_dlpack_matches_the_direct_path():
    k = nsafuse.compile(ADD)
    a = torch.randn(5, 7)[:, 1:5]
    b = torch.randn(4)
    direct = k(a, b)
    out = torch.empty(5, 4)
    k(Hidden(a), Hidden(b), out=Hidden(out))
    assert torch.equal(direct, out)
    assert_matches(direct, (a + b) * 0.5, k)


# ---- a producer written with ctypes ---------------------------------------------

_DESTRUCTOR = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_DELETER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
# Called from the destructor, while the capsule is being freed: no py_object.
_capsule_name = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.c_void_p)(("PyCapsule_GetName", ctypes.pythonapi))
_capsule_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", ctypes.pythonapi))


# Capsules may outlive the test that made them (a traceback can hold one):
# the destructor is a module-level function, and each producer stays alive
# until its last capsule is gone.
_LIVE = {}  # address of the DLManagedTensor -> [producer, capsules alive]


def _destroy(capsule):
    name = _capsule_name(capsule)
    if name not in (b"dltensor", b"dltensor_versioned"):
        return  # consumed: the consumer called the deleter
    address = _capsule_pointer(capsule, name)
    entry = _LIVE[address]
    _DELETER(entry[0].managed.deleter)(address)
    entry[1] -= 1
    if entry[1] == 0:
        del _LIVE[address]


_destroy_fn = _DESTRUCTOR(_destroy)


class Producer:
    """Exports buffer[offset : offset + prod(shape)] (elements) through
    DLPack with data = the buffer's start and byte_offset = the offset, as
    DLPack allows; strides NULL (row-major)."""

    def __init__(self, buffer, offset, shape, versioned=False, read_only=False):
        self.buffer = buffer
        self.deleted = 0
        self.versioned = versioned
        self.shape = (ctypes.c_int64 * len(shape))(*shape)
        t = _dlpack.DLTensor()
        t.data = buffer.__array_interface__["data"][0]
        t.device = _dlpack.DLDevice(_dlpack.KDL_CPU, 0)
        t.ndim = len(shape)
        t.dtype = _dlpack.DLDataType(_dlpack.KDL_FLOAT, 32, 1)
        t.shape = self.shape
        t.strides = None
        t.byte_offset = offset * 4
        if versioned:
            self.managed = _dlpack.DLManagedTensorVersioned()
            self.managed.version = _dlpack.DLPackVersion(1, 0)
            self.managed.flags = _dlpack.READ_ONLY if read_only else 0
        else:
            self.managed = _dlpack.DLManagedTensor()
        self.managed.dl_tensor = t
        self._deleter = _DELETER(self._delete)
        self.managed.deleter = ctypes.cast(self._deleter, ctypes.c_void_p)

    def _delete(self, ptr):
        self.deleted += 1

    def _capsule(self, name):
        address = ctypes.addressof(self.managed)
        _LIVE.setdefault(address, [self, 0])[1] += 1
        return _capsule_new(address, name, ctypes.cast(_destroy_fn, ctypes.c_void_p))

    def __dlpack__(self, stream=None, max_version=None):
        if self.versioned and max_version is not None and max_version >= (1, 0):
            return self._capsule(b"dltensor_versioned")
        if self.versioned:
            raise BufferError("only versioned")
        return self._capsule(b"dltensor")

    def __dlpack_device__(self):
        return (_dlpack.KDL_CPU, 0)


@pytest.mark.parametrize("versioned", [False, True], ids=["dltensor", "dltensor_versioned"])
def test_byte_offset_null_strides_and_the_deleter(versioned):
    k = nsafuse.compile(ADD)
    buf = np.arange(40, dtype=np.float32)
    a = Producer(buf, 5, (3, 4), versioned=versioned)
    b = np.ones(4, np.float32)
    out = k(a, b, out=np.empty((3, 4), np.float32))
    assert np.array_equal(out, (buf[5:17].reshape(3, 4) + 1) * np.float32(0.5))
    gc.collect()
    assert a.deleted == 1


def test_a_read_only_tensor_is_an_input_but_never_an_output():
    k = nsafuse.compile(ADD)
    src = Producer(np.arange(12, dtype=np.float32), 0, (3, 4), versioned=True, read_only=True)
    dst = Producer(np.zeros(12, np.float32), 0, (3, 4), versioned=True, read_only=True)
    with pytest.raises(nsafuse.Error) as e:
        k(src, np.ones(4, np.float32), out=dst)
    assert "output 0" in str(e.value) and "read-only" in str(e.value)
    del e  # its traceback holds the call's frame, and the capsules in it
    writable = np.zeros((3, 4), np.float32)
    k(src, np.ones(4, np.float32), out=writable)
    assert writable[2, 3] == 6.0
    gc.collect()
    assert src.deleted == 2 and dst.deleted == 1


def test_dlpack_dtypes_nsafuse_does_not_have():
    k = nsafuse.compile(ADD)
    bad = Producer(np.zeros(12, np.float32), 0, (3, 4))
    bad.managed.dl_tensor.dtype = _dlpack.DLDataType(_dlpack.KDL_UINT, 8, 1)
    with pytest.raises(nsafuse.Error) as e:
        k(bad, np.ones(4, np.float32))
    assert "uint8" in str(e.value)
    bad.managed.dl_tensor.dtype = _dlpack.DLDataType(_dlpack.KDL_FLOAT, 32, 4)
    with pytest.raises(nsafuse.Error) as e:
        k(bad, np.ones(4, np.float32))
    assert "float32x4" in str(e.value)
