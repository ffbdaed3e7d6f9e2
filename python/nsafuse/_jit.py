"""@nsafuse.jit and nsafuse.trace: PyTorch functions made of the contract's
ops, traced to graph text (_tracer.py), compiled and run."""

import functools
import inspect

from . import _kernel
from ._lib import Error
from ._tracer import fx_trace, graph_text, weight_names

SYMBOL = "T"  # the leading size of the tensors that share the first one's


def _torch():
    import torch
    return torch


class _Plan:
    """What one signature traced to: the graph text, the parameter order, the
    shape of the result and (once compiled) the kernel."""
    __slots__ = ("text", "names", "structure", "lines", "kernel")


def _arguments(sig, args, kwargs):
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    return list(bound.arguments.items())


def _signature_key(items, torch, weights=frozenset()):
    """(key, tensor names, tensors, constants, dims texts) of one call. A
    tensor's leading size is the symbol T where it equals the first tensor's,
    unless the tensor is a GEMM weight (weights: their names)."""
    lead = None
    key, names, tensors, constants, dims = [], [], [], {}, []
    for name, v in items:
        if isinstance(v, torch.Tensor):
            shape = tuple(v.shape)
            if lead is None and shape and name not in weights:
                lead = shape[0]
            first = (SYMBOL if shape[0] == lead and name not in weights else shape[0]) if shape else None
            key.append((v.dtype, len(shape), v.device, first, shape[1:]))
            names.append(name)
            tensors.append(v)
            dims.append(", ".join([str(first)] + [str(s) for s in shape[1:]]) if shape else "")
        else:
            if isinstance(v, (tuple, list, dict)) and any(isinstance(x, torch.Tensor) for x in
                                                          (v.values() if isinstance(v, dict) else v)):
                raise Error(f"argument {name}: tensors inside a {type(v).__name__} are not traced; pass each tensor "
                            f"as its own argument")
            try:
                hash(v)
            except TypeError:
                raise Error(f"argument {name}: {type(v).__name__} is neither a tensor nor a hashable constant") \
                    from None
            key.append((name, type(v), v))
            constants[name] = v
    return tuple(key), names, tensors, constants, dims


def _call_key(items, tensor_type, weights):
    """The signature key alone (what _signature_key computes first), for
    cached calls; (None, None) for anything unusual: the full path decides."""
    lead = None
    key, tensors = [], []
    for name, v in items:
        if type(v) is tensor_type or isinstance(v, tensor_type):
            shape = v.shape
            if shape:
                if lead is None and name not in weights:
                    lead = shape[0]
                first = SYMBOL if shape[0] == lead and name not in weights else shape[0]
                key.append((v.dtype, len(shape), v.device, first, tuple(shape[1:])))
            else:
                key.append((v.dtype, 0, v.device, None, ()))
            tensors.append(v)
        elif isinstance(v, (int, float, bool, str, type(None))):
            key.append((name, type(v), v))
        else:
            return None, None
    return tuple(key), tensors


def _plan(fn, items, weights=frozenset()):
    """Traces fn for these arguments. Returns (key, plan, the GEMM weights
    among the arguments)."""
    torch = _torch()
    _, names, tensors, constants, _ = _signature_key(items, torch, weights)
    graph = fx_trace(fn, names, constants)
    weights = frozenset(weights | weight_names(graph))
    key, names, tensors, constants, dims = _signature_key(items, torch, weights)
    p = _Plan()
    p.text, p.lines, p.structure = graph_text(fn, graph, tensors, dims)
    p.names = names
    p.kernel = None
    return key, p, weights


def _compile_plan(fn, p, target, keep_fp32, constants=()):
    try:
        return _kernel.compile(p.text, target=target, keep_fp32=keep_fp32, constants=constants)
    except Error as e:
        src = p.lines.get(e.line)
        if not src:
            raise
        raise Error(f"{src[0]}:{src[1]}: {e.message}\n    {src[2]}\n(graph text line {e.line}: "
                    f"{p.text.splitlines()[e.line - 1].strip()})", e.status, e.line, e.col) from None


def trace(fn, *example_inputs, **example_kwargs):
    """The graph text @nsafuse.jit would compile for fn called with these
    arguments: read it, keep it in a .nf file, compile it with
    nsafuse.compile."""
    items = _arguments(inspect.signature(fn), example_inputs, example_kwargs)
    return _plan(fn, items)[1].text


class Jitted:
    """A function traced and compiled per input signature (dtypes, ranks, the
    sizes after the leading one, devices and constant arguments; the leading
    size stays symbolic)."""

    def __init__(self, fn, target=None, keep_fp32=False, constant_weights=False):
        self.fn = fn
        self.target = target
        self.keep_fp32 = keep_fp32
        self.constant_weights = constant_weights
        self._sig = inspect.signature(fn)
        params = list(self._sig.parameters.values())
        plain = all(p.kind == p.POSITIONAL_OR_KEYWORD for p in params)
        self._plain_names = [p.name for p in params] if plain else None
        self._defaults = [p.default for p in params]
        # fewest positional arguments a call needs: the ones without defaults
        self._required = sum(1 for p in params if p.default is p.empty)
        self._plans = {}
        self._weights = frozenset()  # arguments found to be GEMM weights
        self._tensor_type = _torch().Tensor
        functools.update_wrapper(self, fn)

    def _items(self, args, kwargs):
        names = self._plain_names
        if not kwargs and names is not None and self._required <= len(args) <= len(names) and \
                all(d is not inspect.Parameter.empty for d in self._defaults[len(args):]):
            return list(zip(names, args + tuple(self._defaults[len(args):])))
        return _arguments(self._sig, args, kwargs)

    def _plan_for(self, args, kwargs):
        items = self._items(args, kwargs)
        key, tensors = _call_key(items, self._tensor_type, self._weights)
        if key is None:
            key, _, tensors, _, _ = _signature_key(items, _torch(), self._weights)
        p = self._plans.get(key)
        if p is None:
            key, p, self._weights = _plan(self.fn, items, self._weights)
            if key in self._plans:  # the same signature once its weights are known
                p = self._plans[key]
            else:
                constants = [i for i, n in enumerate(p.names) if n in self._weights] if self.constant_weights else ()
                p.kernel = _compile_plan(self.fn, p, self.target, self.keep_fp32, constants)
                self._plans[key] = p
        return p, tensors

    def __call__(self, *args, **kwargs):
        p, tensors = self._plan_for(args, kwargs)
        result = p.kernel(*tensors)
        if p.structure is None:
            return result
        return p.structure(result if isinstance(result, tuple) else (result,))

    def kernel_for(self, *args, **kwargs):
        """The nsafuse.Kernel these arguments run (tracing it if needed)."""
        return self._plan_for(args, kwargs)[0].kernel

    def prepare(self, *args, sizes=(), threads=0, **kwargs):
        """Compiles, ahead of their calls, the code for these arguments'
        signature at each leading size in sizes (the symbol T), several at
        once: f.prepare(x, w, q, sizes=[1, 2, 4, 8]) before capturing graphs."""
        self.kernel_for(*args, **kwargs).prepare(threads=threads, **{SYMBOL: list(sizes)})

    def text_for(self, *args, **kwargs):
        """The graph text these arguments run."""
        return self._plan_for(args, kwargs)[0].text


def jit(fn=None, *, target=None, keep_fp32=False, constant_weights=False):
    """@nsafuse.jit, or @nsafuse.jit(target="cuda", keep_fp32=True): fn is
    traced through torch.fx on its first call per input signature, compiled,
    and run by nsafuse from then on. An op outside the contract raises
    nsafuse.Error naming the op and its line. constant_weights=True declares
    the arguments that are GEMM weights constant (nsafuse.compile's
    constants): after changing one in place, call
    f.kernel_for(...).constants_changed()."""
    if fn is None:
        return lambda f: Jitted(f, target, keep_fp32, constant_weights)
    return Jitted(fn, target, keep_fp32, constant_weights)
