"""nsafuse.compile and Kernel: a parsed graph, compiled per device, run on
any tensors with the graph's dtypes and shapes."""

import ctypes
import os
import weakref

from . import _lib, _tensors
from ._dlpack import contiguous_strides
from ._lib import Error, NfBindings, NfError, NfTensor
from ._tensors import NUMPY, OTHER, TORCH, numpy_key, numpy_pointer, numpy_types, torch_key, torch_types

# The GPU each device kind runs on: the library loads its code into one
# device's context, so one process uses one GPU of a kind.
_gpu_device = {}


def _target_device(target):
    device = ctypes.c_int()
    if _lib.target_device(target.encode(), ctypes.byref(device)):
        return device.value
    return None  # unknown: nf_compile says which targets exist


def _read_source(text_or_path):
    if isinstance(text_or_path, os.PathLike) or (isinstance(text_or_path, str) and "{" not in text_or_path
                                                  and "\n" not in text_or_path):
        path = os.fspath(text_or_path)
        try:
            with open(path, encoding="utf-8") as f:
                return f.read(), path
        except OSError as e:
            raise Error(f"cannot read {path}: {e.strerror} (pass graph text, or the path of a .nf file)",
                        "NF_ERR_IO") from None
        except UnicodeDecodeError as e:
            raise Error(f"{path} is not UTF-8 text: {e}", "NF_ERR_PARSE") from None
    if not isinstance(text_or_path, str):
        raise Error(f"expected graph text or a path, got {type(text_or_path).__name__}")
    return text_or_path, "<text>"


def compile(text_or_path, graph=None, target=None, keep_fp32=False, constants=()):
    """Parses and verifies a graph (text, or the path of a .nf file; graph
    names one graph of a file, default the first) and compiles it for target:
    "host", "cuda" (the current GPU), "sm_80", "sm_90", "sm_90a", "gfx942", ... or None
    to follow the device of each call's inputs. Code is generated per
    signature (dtypes, sizes, strides) on first use and cached. constants
    names the inputs (by name or position) that calls never change, such as
    weights: data made from them is kept (an f32 GEMM weight's bf16 terms
    on sm_90); after changing one in place, call constants_changed()."""
    text, filename = _read_source(text_or_path)
    return Kernel(text, filename, graph, target, keep_fp32, constants)


def _free(graph, handles):
    for h in handles.values():
        _lib.kernel_free(h)
    _lib.graph_free(graph)


def _overlapping_layout(meta):
    """True when two elements of the tensor share memory (a broadcast view):
    a conservative test, dims sorted by stride must nest."""
    extent = 1
    for s, n in sorted((abs(s), n) for n, s in zip(meta.shape, meta.strides) if n > 1):
        if s < extent:
            return True
        extent = s * n
    return False


class _Prepared:
    """nf_tensor arrays for one call in flight; shapes and strides are fixed
    per signature, only the pointers change. Addresses are kept as integers
    for the cheapest ctypes call."""
    __slots__ = ("ins", "outs", "in_elems", "out_elems", "err", "ins_addr", "outs_addr", "err_addr")

    def __init__(self, ins, outs):
        self.ins = ins
        self.outs = outs
        self.in_elems = [ins[i] for i in range(len(ins))]
        self.out_elems = [outs[i] for i in range(len(outs))]
        self.err = NfError()
        self.ins_addr = ctypes.addressof(ins)
        self.outs_addr = ctypes.addressof(outs)
        self.err_addr = ctypes.addressof(self.err)


class _Signature:
    __slots__ = ("handle", "in_template", "out_template", "pool", "allocs", "stream", "bindings",
                 "n_out", "device")

    def prepared(self):
        ins = (NfTensor * max(len(self.in_template), 1))()
        outs = (NfTensor * max(len(self.out_template), 1))()
        for arr, tmpl in ((ins, self.in_template), (outs, self.out_template)):
            for i, t in enumerate(tmpl):
                arr[i] = t
        return _Prepared(ins, outs)


def _tensor_struct(meta):
    t = NfTensor()
    t.dtype = meta.dtype
    t.rank = len(meta.shape)
    for d, (n, s) in enumerate(zip(meta.shape, meta.strides)):
        t.shape[d] = n
        t.strides[d] = s
    t.device = meta.device
    t.device_id = meta.device_id
    return t


class Kernel:
    """A compiled graph. Call it with one tensor per graph parameter:
    k(x, w, q_scale) returns the output (a tuple when the graph returns
    several), allocated in the first input's framework on its device, or
    writes into out= (a tensor, or a tuple of them). On a GPU it launches on
    the caller's current stream."""

    def __init__(self, text, filename, graph, target, keep_fp32, constants=()):
        err = NfError()
        data = text.encode("utf-8")
        g = _lib.graph_parse(data, len(data), filename.encode(), graph.encode() if graph else None,
                             ctypes.byref(err))
        if not g:
            e = _lib.error_from(err)
            if e.line:
                e.args = (f"{filename}:{e.line}:{e.col}: {e.message}",)
            raise e
        self._graph = g
        self._handles = {}
        self._finalizer = weakref.finalize(self, _free, g, self._handles)
        self._finalizer.atexit = False  # at exit the process frees everything; devices may be gone
        self.name = _lib.graph_name(g).decode()
        self.params = [self._value_info(_lib.graph_param(g, i)) for i in range(_lib.graph_num_params(g))]
        self.outputs = [self._value_info(_lib.graph_output(g, i)) for i in range(_lib.graph_num_outputs(g))]
        self.symbols = [_lib.graph_symbol(g, i).decode() for i in range(_lib.graph_num_symbols(g))]
        self.target = target
        self.keep_fp32 = bool(keep_fp32)
        self.constant_inputs = self._constant_mask(constants)
        self._sigs = {}
        self._last_bindings = None
        self._last_device = None
        if target is not None:
            if not isinstance(target, str):
                raise Error(f"target must be a string such as \"host\" or \"cuda\", got {target!r}")
            self._compile(target, _target_device(target))
        else:
            self._compile("host", _lib.DEVICE_HOST)  # checks the graph compiles at all

    @staticmethod
    def _value_info(v):
        name = _lib.value_name(v)
        return (name.decode() if name else None, _lib.DTYPE_NAMES[_lib.value_dtype(v)], _lib.value_rank(v))

    def _constant_mask(self, constants):
        mask, names = 0, [p[0] for p in self.params]
        for c in constants:
            i = names.index(c) if isinstance(c, str) and c in names else c
            if not isinstance(i, int) or not 0 <= i < len(names):
                raise Error(f"constants: {c!r} is not an input of graph {self.name} "
                            f"({', '.join('%' + n for n in names if n)})")
            mask |= 1 << i
        return mask

    def constants_changed(self):
        """The inputs declared constant changed in place: the next call
        makes what was made from them again."""
        for h in self._handles.values():
            _lib.kernel_constants_changed(h)

    def _compile(self, target, device):
        opts = _lib.NfCompileOptions()
        _lib.compile_options_init(ctypes.byref(opts))
        opts.target = target.encode()
        opts.keep_fp32 = self.keep_fp32
        opts.constant_inputs = self.constant_inputs
        handle = ctypes.c_void_p()
        err = NfError()
        if _lib.compile_graph(self._graph, ctypes.byref(opts), ctypes.byref(handle), ctypes.byref(err)):
            raise _lib.error_from(err)
        self._handles[device] = handle.value
        return handle.value

    def _handle_for(self, device):
        h = self._handles.get(device)
        if h is not None:
            return h
        if self.target is not None:
            return None
        return self._compile(_lib.DEVICE_NAMES[device], device)

    def _label(self, kind, i):
        if kind == "input" and i < len(self.params) and self.params[i][0]:
            return f"input {i} (%{self.params[i][0]})"
        if kind == "output" and i < len(self.outputs) and self.outputs[i][0]:
            return f"output {i} (%{self.outputs[i][0]})"
        return f"{kind} {i}"

    # ---- calls ------------------------------------------------------------

    def __call__(self, *inputs, out=None):
        outs = None if out is None else tuple(out) if isinstance(out, (tuple, list)) else (out,)
        keys, ptrs = [], []
        try:
            for x in inputs if outs is None else inputs + outs:
                kind = type(x)
                if kind in torch_types:
                    if x.requires_grad:
                        self._check_grad(len(keys), len(inputs))
                    keys.append(torch_key(x))
                    ptrs.append(x.data_ptr())
                elif kind in numpy_types:
                    keys.append(numpy_key(x))
                    ptrs.append(numpy_pointer(x))
                else:
                    return self._call_slow(inputs, outs, out)
        except Error:
            raise
        except Exception:  # a tensor without storage, a sparse one: the slow path says what is wrong
            return self._call_slow(inputs, outs, out)
        sig = self._sigs.get((tuple(keys), outs is None))
        if sig is None:
            return self._call_slow(inputs, outs, out)
        return self._run(sig, ptrs, len(inputs), outs, out)

    def _call_slow(self, inputs, outs, out):
        """Reads every argument (through DLPack where needed), checks it, and
        builds the signature on first sight."""
        objs = inputs if outs is None else inputs + outs
        n_in = len(inputs)
        labels = [self._label("input", i) for i in range(n_in)] + \
                 [self._label("output", i) for i in range(len(objs) - n_in)]
        kinds = [_tensors.classify(x) for x in objs]
        metas, keys, ptrs, capsules = [None] * len(objs), [None] * len(objs), [0] * len(objs), []
        for i, (x, kind) in enumerate(zip(objs, kinds)):
            if kind in (TORCH, NUMPY):
                metas[i] = _tensors.meta_of(x, kind, labels[i])
                keys[i] = torch_key(x) if kind == TORCH else numpy_key(x)
                ptrs[i] = x.data_ptr() if kind == TORCH else numpy_pointer(x)
                if kind == TORCH and x.requires_grad:
                    self._check_grad(i, n_in)
        stream = self._launch_stream(metas, objs, kinds)
        for i, (x, kind) in enumerate(zip(objs, kinds)):
            if kind == OTHER:
                capsule, ptrs[i], metas[i] = _tensors.describe_other(
                    x, labels[i], lambda dev: _tensors.dlpack_stream(stream, dev))
                capsules.append(capsule)
                keys[i] = _tensors.other_key(metas[i])
        key = (tuple(keys), outs is None)
        sig = self._sigs.get(key)
        if sig is None:
            sig = self._new_signature(metas, n_in, outs is not None, labels)
            self._sigs[key] = sig
        result = self._run(sig, ptrs, n_in, outs, out)
        del capsules  # launched: the callers' objects keep the memory, the capsules can go
        return result

    def _check_grad(self, i, n_in):
        torch = _tensors._torch()
        if torch.is_grad_enabled():
            label = self._label("input", i) if i < n_in else self._label("output", i - n_in)
            raise Error(f"{label} requires grad; nsafuse kernels have no backward: call under torch.no_grad() or "
                        f"pass .detach()")

    @staticmethod
    def _launch_stream(metas, objs, kinds):
        """The stream objects read through DLPack are told about: the first
        framework-known argument's current stream, else the default."""
        for m in metas:
            if m is not None and m.device != _lib.DEVICE_HOST:
                return _tensors.stream_function(m)()
        for x, kind in zip(objs, kinds):
            if kind == OTHER and type(x).__module__.split(".")[0] == "cupy":
                import cupy
                return cupy.cuda.get_current_stream().ptr
        return 0

    def _new_signature(self, metas, n_in, have_out, labels):
        n_out = len(self.outputs)
        if have_out and len(metas) - n_in != n_out:
            raise Error(f"graph {self.name} returns {n_out} value{'s' * (n_out != 1)}; out= has "
                        f"{len(metas) - n_in} tensor{'s' * (len(metas) - n_in != 1)}")
        if self.target is not None:
            device, where = _target_device(self.target), f"target {self.target}"
        else:
            device = metas[0].device if metas else _lib.DEVICE_HOST
            where = f"{metas[0].where()} (where {labels[0]} is)" if metas else "the host"
        for m, label in zip(metas, labels):
            if m.device != device:
                raise Error(f"{label} is on {m.where()}, but the kernel runs on {where}; move it, or compile for "
                            f"another target")
        ids = {m.device_id for m in metas}
        if device != _lib.DEVICE_HOST and metas:
            first = _gpu_device.setdefault(device, metas[0].device_id)
            if len(ids) > 1 or first not in ids:
                raise Error(f"the tensors are on {sorted(ids)} of {_lib.DEVICE_NAMES[device]}; nsafuse runs on one "
                            f"GPU per process ({_lib.DEVICE_NAMES[device]}:{first}, the first one used)")
        handle = self._handle_for(device)
        if handle is None:
            raise Error(f"the kernel was compiled for target {self.target}")
        for m, label in zip(metas[n_in:], labels[n_in:]):
            if m.read_only:
                raise Error(f"{label} is read-only")
            if _overlapping_layout(m):
                raise Error(f"{label}: strides {m.strides} make elements share memory; pass a tensor that can "
                            f"hold every output element")
        sig = _Signature()
        sig.handle = handle
        sig.device = device
        sig.n_out = n_out
        sig.in_template = [_tensor_struct(m) for m in metas[:n_in]]
        sig.out_template = [_tensor_struct(m) for m in metas[n_in:]]
        sig.pool = []
        sig.bindings = self._bind(sig.in_template)
        # outputs go to the first input whose framework can allocate them
        home = next((m for m in metas[:n_in] if m.framework != OTHER), metas[0] if metas else None)
        sig.stream = _tensors.stream_function(home) if home else None
        sig.allocs = None
        if not have_out:
            if not metas:
                raise Error(f"graph {self.name} has no inputs: pass out= to say where the outputs go")
            sig.allocs = []
            for i in range(n_out):
                shape = self._output_shape(i, sig.bindings)
                sig.out_template.append(_tensor_struct(_tensors.Meta(
                    _lib.DTYPE_NAMES.index(self.outputs[i][1]), shape, contiguous_strides(shape),
                    device, home.device_id, False, None, None)))
                sig.allocs.append(_tensors.allocator(home, shape, sig.out_template[-1].dtype,
                                                     self._label("output", i)))
        return sig

    def _bind(self, templates):
        arr = (NfTensor * max(len(templates), 1))(*templates)
        b, err = NfBindings(), NfError()
        if _lib.bind_from_inputs(self._graph, arr, len(templates), ctypes.byref(b), ctypes.byref(err)):
            raise _lib.error_from(err)
        return {b.names[i].decode(): b.sizes[i] for i in range(b.n)}

    def _bindings_struct(self, sizes):
        b = NfBindings()
        names = [n.encode() for n in sizes]
        b.n = len(names)
        for i, n in enumerate(names):
            b.names[i] = n
            b.sizes[i] = int(sizes[n.decode()])
        return b, names  # names keep the strings alive

    def _output_shape(self, i, sizes):
        b, keep = self._bindings_struct(sizes)
        rank, shape, err = ctypes.c_int(), (ctypes.c_int64 * _lib.MAX_DIMS)(), NfError()
        if _lib.output_shape(self._graph, i, ctypes.byref(b), ctypes.byref(rank), shape, ctypes.byref(err)):
            raise _lib.error_from(err)
        return tuple(shape[d] for d in range(rank.value))

    def _run(self, sig, ptrs, n_in, outs, out):
        # out= may share memory with the inputs: nf_kernel_run computes from the
        # inputs as they were (in place when that is safe, else through a temporary)
        prep = sig.pool.pop() if sig.pool else sig.prepared()
        try:
            for e, p in zip(prep.in_elems, ptrs):
                e.data = p
            if outs is None:
                results = [alloc() for alloc in sig.allocs]
                for e, r in zip(prep.out_elems, results):
                    e.data = r[1]
            else:
                for e, p in zip(prep.out_elems, ptrs[n_in:]):
                    e.data = p
            if _lib.kernel_run_raw(sig.handle, prep.ins_addr, n_in, prep.outs_addr, sig.n_out,
                                   sig.stream() if sig.stream is not None else None, prep.err_addr):
                raise _lib.error_from(prep.err)
        finally:
            sig.pool.append(prep)
        self._last_bindings = sig.bindings
        self._last_device = sig.device
        if outs is not None:
            return out
        if sig.n_out == 1:
            return results[0][0]
        return tuple(r[0] for r in results)

    # ---- compiling ahead -------------------------------------------------

    def prepare(self, *sizes, device=None, threads=0, **symbol_sizes):
        """Compiles, ahead of the first calls, the code for contiguous tensors
        of each of these sizes, several sizes at once (threads=0: one per
        core), so those calls only launch: k.prepare(T=[1, 2, 4, 8]), or
        k.prepare({"T": 1, "S": 4}, {"T": 8, "S": 4}). Lists given by keyword
        are taken together, element by element; a single number holds for
        all. device: "host", "cuda" or "hip"; by default the kernel's target
        or the device of its last call. On NVIDIA the code also lands in the
        disk cache, for later processes."""
        bindings = [dict(b) for b in sizes] + self._zip_sizes(symbol_sizes)
        handle = self._handle_for(self._prepare_device(device))
        if handle is None:
            raise Error(f"this kernel was compiled for target {self.target!r}, not for device {device!r}")
        structs = [self._bindings_struct(b) for b in bindings]
        arr = (NfBindings * max(len(structs), 1))(*[b for b, _ in structs])
        err = NfError()
        if _lib.kernel_prepare(handle, arr, len(structs), int(threads), ctypes.byref(err)):
            raise _lib.error_from(err)

    @staticmethod
    def _zip_sizes(symbol_sizes):
        lists = {n: list(v) for n, v in symbol_sizes.items() if not isinstance(v, int)}
        lengths = {len(v) for v in lists.values()}
        if len(lengths) > 1:
            raise Error(f"prepare: the size lists differ in length ({', '.join(f'{n}: {len(v)}' for n, v in lists.items())})")
        count = lengths.pop() if lengths else (1 if symbol_sizes else 0)
        return [{n: (lists[n][i] if n in lists else v) for n, v in symbol_sizes.items()} for i in range(count)]

    def _prepare_device(self, device):
        if device is not None:
            kind = _target_device(device)
            if kind is None:
                raise Error(f"prepare: unknown device {device!r} (host, cuda or hip)")
            return kind
        if self.target is not None:
            return _target_device(self.target)
        if self._last_device is not None:
            return self._last_device
        raise Error("prepare: say which device (device=\"cuda\", \"hip\" or \"host\"): "
                    "this kernel takes the device of its inputs and has not been called yet")

    # ---- what was compiled ------------------------------------------------

    def _dump_handle(self):
        if self._last_device is not None and self.target is None:
            return self._handles[self._last_device]
        return next(iter(self._handles.values()))

    def source(self, what="fused", **sizes):
        """What `nsafuse dump --emit WHAT` prints: "ir", "fused", "llvm",
        "ptx", "amdgcn" (text) or "hsaco" (bytes). Code is shown for
        contiguous tensors with the symbolic sizes given (T=8), or those of
        the last call."""
        bind = dict(self._last_bindings or {})
        bind.update(sizes)
        b, keep = self._bindings_struct(bind)
        text, size, err = ctypes.c_void_p(), ctypes.c_size_t(), NfError()
        if _lib.kernel_dump(self._dump_handle(), what.encode(), ctypes.byref(b), ctypes.byref(text),
                            ctypes.byref(size), ctypes.byref(err)):
            raise _lib.error_from(err)
        if what == "hsaco":
            return _lib.take_bytes(text.value, size.value)
        return _lib.take_string(text.value)

    @property
    def text(self):
        """The graph as text with every type written out."""
        return _lib.take_string(_lib.graph_print(self._graph))

    def stats(self):
        """kernels per run, signatures compiled, the last compile's time in
        ms (and of it LLVM's and the GPU driver's), and whether it came from
        the disk cache (of the last device used)."""
        s = _lib.NfKernelStats()
        _lib.kernel_get_stats(self._dump_handle(), ctypes.byref(s))
        return {"kernels": s.kernels, "compiled_signatures": s.compiled_signatures,
                "last_compile_ms": s.last_compile_ms, "last_from_disk_cache": s.last_from_disk_cache,
                "last_llvm_ms": s.last_llvm_ms, "last_driver_ms": s.last_driver_ms}

    def tolerance(self, output=0, max_abs=1.0):
        """(atol, rtol) within which this kernel matches nsafuse's reference
        interpreter on an output whose largest magnitude is max_abs
        (docs/FUSION.md derives it)."""
        t = _lib.graph_tolerance(self._graph, output, max_abs)
        return t.atol, t.rtol

    def __repr__(self):
        params = ", ".join(f"%{n}: {d}[{r}d]" for n, d, r in self.params)
        return f"<nsafuse.Kernel {self.name}({params}) target={self.target or 'auto'}>"
