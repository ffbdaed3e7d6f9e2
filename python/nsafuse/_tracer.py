"""A PyTorch function to nsafuse graph text, through torch.fx.

The function is traced symbolically once per input signature; every fx node
must be one of the contract's ops (docs/PYTHON.md lists them). Anything else
raises nsafuse.Error naming the op and the line of the function that used it:
nothing falls back to eager silently."""

import builtins
import inspect
import linecache
import math
import operator
import os
import re
import sys

from ._lib import Error

# Past this many graph-text characters a statement's comment is cut.
_COMMENT_WIDTH = 100
# int64 max: "to the end" for slices that need an explicit end (a step)
_TO_END = 2**63 - 1


def _torch_dtype_names(torch):
    names = {torch.bfloat16: "bf16", torch.float16: "f16", torch.float32: "f32", torch.float64: "f64",
             torch.int32: "i32", torch.int64: "i64", torch.bool: "bool"}
    f8 = getattr(torch, "float8_e4m3fn", None)
    if f8 is not None:
        names[f8] = "f8e4m3"
    return names


class _Ops:
    """The contract's ops as torch spells them (functions, and method names)."""

    def __init__(self, torch):
        F = torch.nn.functional
        self.unary_fn = {operator.neg: "neg", operator.abs: "abs"}
        for fn, op in ((torch.neg, "neg"), (torch.abs, "abs"), (torch.exp, "exp"), (torch.log, "log"),
                       (torch.sqrt, "sqrt"), (torch.rsqrt, "rsqrt"), (torch.sigmoid, "sigmoid"),
                       (torch.tanh, "tanh"), (torch.relu, "relu"), (F.relu, "relu"), (F.silu, "silu"),
                       (F.sigmoid, "sigmoid"), (F.tanh, "tanh"), (getattr(torch.special, "expit", None), "sigmoid"),
                       (torch.negative, "neg"), (torch.absolute, "abs")):
            if fn is not None:
                self.unary_fn[fn] = op
        self.unary_method = {"neg": "neg", "negative": "neg", "abs": "abs", "absolute": "abs", "exp": "exp",
                             "log": "log", "sqrt": "sqrt", "rsqrt": "rsqrt", "sigmoid": "sigmoid", "tanh": "tanh",
                             "relu": "relu"}
        self.gelu = {F.gelu, getattr(torch._C._nn, "gelu", F.gelu)}
        self.binary_fn = {operator.add: "add", operator.sub: "sub", operator.mul: "mul", operator.truediv: "div",
                          operator.pow: "pow"}
        for fn, op in ((torch.add, "add"), (torch.sub, "sub"), (torch.subtract, "sub"), (torch.mul, "mul"),
                       (torch.multiply, "mul"), (torch.div, "div"), (torch.divide, "div"),
                       (torch.true_divide, "div"), (torch.pow, "pow"), (torch.maximum, "max"),
                       (torch.minimum, "min"), (torch.max, "max"), (torch.min, "min")):
            self.binary_fn[fn] = op
        self.binary_method = {"add": "add", "sub": "sub", "subtract": "sub", "mul": "mul", "multiply": "mul",
                              "div": "div", "divide": "div", "true_divide": "div", "pow": "pow", "maximum": "max",
                              "minimum": "min", "max": "max", "min": "min"}
        self.linear = {F.linear, getattr(torch._C._nn, "linear", F.linear)}
        self.matmul_fn = {operator.matmul, torch.matmul, torch.mm}
        self.cast_method = {"float": torch.float32, "half": torch.float16, "bfloat16": torch.bfloat16,
                            "double": torch.float64, "int": torch.int32, "long": torch.int64, "bool": torch.bool}
        self.identity_method = {"contiguous", "clone", "detach"}
        self.unsqueeze_fn = {torch.unsqueeze}
        self.squeeze_fn = {torch.squeeze}
        self.transpose_fn = {torch.transpose, torch.swapaxes, torch.t}


def _describe_target(node):
    """How the user wrote the op: 'torch.cumsum', 'Tensor.sum', 'operator.floordiv'."""
    t = node.target
    if node.op == "call_method":
        return f"Tensor.{t}"
    if node.op == "call_function":
        if t is getattr:
            return f"Tensor.{node.args[1]}" if len(node.args) > 1 else "getattr"
        mod = getattr(t, "__module__", None) or ""
        name = getattr(t, "__name__", None) or repr(t)
        if mod in ("_operator", "operator"):
            return f"the Python operator {name}"
        if mod.startswith("torch._C._nn"):
            mod = "torch.nn.functional"
        elif mod.startswith("torch._C") or "VariableFunctions" in mod or not mod:
            mod = "torch"
        return f"{mod}.{name}"
    if node.op == "get_attr":
        return f"the tensor constant {t}"
    return str(t)


_SUPPORTED = ("F.linear (no bias), matmul/mm, + - * / ** by tensors or Python numbers, torch.maximum/minimum, "
              "neg abs exp log sqrt rsqrt sigmoid tanh relu silu gelu, .float()/.half()/.bfloat16()/.double()/"
              ".to(dtype), unsqueeze, squeeze(dim), transpose, .t()/.T, slicing with steps, None and ints")


class _Source:
    """Where the user's code created each fx node."""

    def __init__(self, torch):
        skip = [os.path.dirname(os.path.abspath(torch.__file__)), os.path.dirname(os.path.abspath(__file__))]
        self.skip = tuple(p + os.sep for p in skip)

    def locate(self):
        f = sys._getframe(2)
        while f is not None:
            name = f.f_code.co_filename
            if not name.startswith(self.skip) and not name.startswith("<nsafuse"):
                line = linecache.getline(name, f.f_lineno).strip()
                return name, f.f_lineno, line
            f = f.f_back
        return None


def _make_tracer(torch, source):
    import torch.fx

    class Tracer(torch.fx.Tracer):
        def create_node(self, *args, **kwargs):
            node = super().create_node(*args, **kwargs)
            node.meta["nsafuse_source"] = source.locate()
            return node

        def create_arg(self, a):
            if isinstance(a, torch.Tensor):
                src = source.locate()
                where = f"{src[0]}:{src[1]}: " if src else ""
                line = f"\n    {src[2]}" if src and src[2] else ""
                raise Error(f"{where}the function uses a tensor that is not one of its arguments (a global or a "
                            f"closure variable); pass it as an argument{line}")
            return super().create_arg(a)

    return Tracer()


def _where(src):
    if not src:
        return "in the traced function"
    return f"{os.path.basename(src[0])}:{src[1]}"


def _fail(node, message):
    src = node.meta.get("nsafuse_source") if node is not None else None
    text = f"{src[0]}:{src[1]}: {message}" if src else message
    if src and src[2]:
        text += f"\n    {src[2]}"
    raise Error(text)


def _number(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    return None


class _Emitter:
    def __init__(self, torch, graph_name, params, dtype_names):
        self.torch = torch
        self.ops = _Ops(torch)
        self.dtype_names = dtype_names
        self.graph_name = graph_name
        self.params = params      # placeholder name -> (dtype name, dims text, rank)
        self.rank = {}            # node -> rank, for tensors
        self.lines = []           # (statement, source)
        self.names = {}           # node -> %name
        self.counter = 0

    # -- helpers ------------------------------------------------------------

    def fresh(self, base):
        self.counter += 1
        return f"{base}.{self.counter}"

    def emit(self, node, op, args, rank, name=None):
        name = name or node.name
        self.lines.append((f"%{name} = {op}({', '.join(args)})", node.meta.get("nsafuse_source")))
        self.rank[node] = rank
        self.names[node] = name
        return name

    def tensor(self, node, a, what):
        import torch.fx
        if isinstance(a, torch.fx.Node):
            if a not in self.rank:
                _fail(node, f"{what} is not a tensor the graph computes (it comes from {_describe_target(a)})")
            return f"%{self.names[a]}"
        _fail(node, f"{what} must be a tensor here, got {type(a).__name__} {a!r}")

    def operand(self, node, a, what):
        import torch.fx
        if isinstance(a, torch.fx.Node):
            return self.tensor(node, a, what)
        text = _number(a)
        if text is None:
            _fail(node, f"{what} must be a tensor or a Python number, got {type(a).__name__} {a!r}")
        return text

    def dtype(self, node, d):
        name = self.dtype_names.get(d)
        if name is None:
            _fail(node, f"dtype {d} is not one nsafuse computes with (bfloat16, float16, float32, float64, int32, "
                        f"int64, bool, float8_e4m3fn)")
        return name

    @staticmethod
    def int_arg(node, v, what):
        if isinstance(v, bool) or not isinstance(v, int):
            _fail(node, f"{what} must be a Python int, got {v!r}")
        return v

    # -- the ops ----------------------------------------------------------

    def node(self, node):
        op = node.op
        if op == "placeholder":
            if node.name in self.params:
                self.rank[node] = self.params[node.name][2]
                self.names[node] = node.name
            return
        if op == "output":
            return
        if op == "get_attr":
            _fail(node, f"{_describe_target(node)} is not an argument of the function; pass it as one")
        if op not in ("call_function", "call_method"):
            _fail(node, f"{op} {node.target} is outside nsafuse's contract")
        args, kwargs = list(node.args), dict(node.kwargs)
        if op == "call_method":
            self.method(node, node.target, args, kwargs)
        else:
            self.function(node, node.target, args, kwargs)

    def function(self, node, fn, args, kwargs):
        o = self.ops
        if kwargs.get("out") is not None:
            _fail(node, f"{_describe_target(node)}(out=...) writes into a tensor; nsafuse computes values")
        kwargs.pop("out", None)
        if fn in o.linear:
            return self.linear(node, args, kwargs)
        if fn in o.matmul_fn:
            return self.matmul(node, args, kwargs)
        if fn in o.gelu:
            return self.gelu(node, args, kwargs)
        if fn in o.unary_fn:
            if kwargs.pop("inplace", False):
                _fail(node, f"{_describe_target(node)}(inplace=True) changes its input; nsafuse computes values")
            self.no_kwargs(node, kwargs)
            return self.emit(node, o.unary_fn[fn], [self.tensor(node, args[0], "the operand")], self.rank[args[0]])
        if fn in o.binary_fn:
            return self.binary(node, o.binary_fn[fn], args, kwargs)
        if fn in o.unsqueeze_fn:
            return self.unsqueeze(node, args, kwargs)
        if fn in o.squeeze_fn:
            return self.squeeze(node, args, kwargs)
        if fn in o.transpose_fn:
            return self.transpose(node, args, kwargs, t=fn is self.torch.t)
        if fn is operator.getitem:
            return self.getitem(node, args)
        if fn is builtins.getattr and len(args) == 2 and args[1] == "T":
            return self.transpose(node, args[:1], {}, t=True)
        self.unsupported(node)

    def method(self, node, name, args, kwargs):
        o = self.ops
        if name.endswith("_") and not name.startswith("_"):
            _fail(node, f"Tensor.{name} changes its input in place; nsafuse computes values (use the "
                        f"out-of-place Tensor.{name[:-1]})")
        if name in o.unary_method:
            self.no_kwargs(node, kwargs)
            if len(args) != 1:
                self.unsupported(node)
            return self.emit(node, o.unary_method[name], [self.tensor(node, args[0], "the operand")],
                             self.rank[args[0]])
        if name in o.binary_method:
            return self.binary(node, o.binary_method[name], args, kwargs)
        if name in o.cast_method:
            kwargs.pop("memory_format", None)
            self.no_kwargs(node, kwargs)
            return self.cast(node, args[0], o.cast_method[name])
        if name in ("to", "type"):
            return self.to(node, name, args, kwargs)
        if name in o.identity_method:
            kwargs.pop("memory_format", None)
            self.no_kwargs(node, kwargs)
            src = args[0]
            self.tensor(node, src, "the operand")
            self.rank[node] = self.rank[src]
            self.names[node] = self.names[src]
            return None
        if name == "unsqueeze":
            return self.unsqueeze(node, args, kwargs)
        if name == "squeeze":
            return self.squeeze(node, args, kwargs)
        if name in ("transpose", "swapaxes", "t"):
            return self.transpose(node, args, kwargs, t=name == "t")
        if name in ("matmul", "mm"):
            return self.matmul(node, args, kwargs)
        self.unsupported(node)

    def unsupported(self, node):
        _fail(node, f"{_describe_target(node)} is outside nsafuse's contract (supported: {_SUPPORTED})")

    def no_kwargs(self, node, kwargs):
        if kwargs:
            _fail(node, f"{_describe_target(node)} with {', '.join(f'{k}=' for k in kwargs)} is outside nsafuse's "
                        f"contract")

    def binary(self, node, op, args, kwargs):
        alpha = kwargs.pop("alpha", 1)
        mode = kwargs.pop("rounding_mode", None)
        self.no_kwargs(node, kwargs)
        if alpha != 1:
            _fail(node, f"{_describe_target(node)}(alpha={alpha}) is outside nsafuse's contract (multiply first)")
        if mode is not None:
            _fail(node, f"division with rounding_mode={mode!r} is outside nsafuse's contract")
        if len(args) != 2:
            _fail(node, f"{_describe_target(node)} with {len(args)} arguments is outside nsafuse's contract"
                        + (" (torch.max/min of one tensor is a reduction)" if op in ("max", "min") else ""))
        import torch.fx
        if op in ("max", "min") and not all(isinstance(a, torch.fx.Node) for a in args):
            _fail(node, f"{_describe_target(node)} with a number is a reduction over a dim in torch; nsafuse's "
                        f"max/min take two tensors")
        a = self.operand(node, args[0], "the first operand")
        b = self.operand(node, args[1], "the second operand")
        rank = max(self.rank.get(x, 0) for x in args if isinstance(x, torch.fx.Node))
        return self.emit(node, op, [a, b], rank)

    def gelu(self, node, args, kwargs):
        approximate = kwargs.pop("approximate", args[1] if len(args) > 1 else "none")
        self.no_kwargs(node, kwargs)
        x = self.tensor(node, args[0], "the operand")
        if approximate == "tanh":
            return self.emit(node, "gelu", [x, "approximate=tanh"], self.rank[args[0]])
        if approximate != "none":
            _fail(node, f"gelu(approximate={approximate!r}) is outside nsafuse's contract ('none' or 'tanh')")
        return self.emit(node, "gelu", [x], self.rank[args[0]])

    def cast(self, node, src, dtype):
        x = self.tensor(node, src, "the operand")
        return self.emit(node, "cast", [x, self.dtype(node, dtype)], self.rank[src])

    def to(self, node, name, args, kwargs):
        torch = self.torch
        dtype = kwargs.pop("dtype", None)
        for a in args[1:]:
            if isinstance(a, torch.dtype) and dtype is None:
                dtype = a
            else:
                _fail(node, f"Tensor.{name}({a!r}) moves or converts by something other than a dtype; nsafuse "
                            f"traces .{name}(dtype) only (move tensors before the call)")
        kwargs.pop("non_blocking", None)
        kwargs.pop("copy", None)
        kwargs.pop("memory_format", None)
        self.no_kwargs(node, kwargs)
        if dtype is None:
            _fail(node, f"Tensor.{name}() without a dtype is outside nsafuse's contract")
        return self.cast(node, args[0], dtype)

    def linear(self, node, args, kwargs):
        bias = kwargs.pop("bias", args[2] if len(args) > 2 else None)
        self.no_kwargs(node, kwargs)
        if bias is not None:
            _fail(node, "F.linear with a bias is outside nsafuse's contract (PyTorch adds the bias before rounding "
                        "the product; nsafuse's linear has no bias)")
        x = self.tensor(node, args[0], "the input")
        w = self.tensor(node, args[1], "the weight")
        return self.emit(node, "linear", [x, w], self.rank[args[0]])

    def matmul(self, node, args, kwargs):
        out_dtype = kwargs.pop("out_dtype", None)
        self.no_kwargs(node, kwargs)
        if len(args) != 2:
            self.unsupported(node)
        a = self.tensor(node, args[0], "the first operand")
        b = self.tensor(node, args[1], "the second operand")
        if self.rank[args[0]] != 2 or self.rank[args[1]] != 2:
            _fail(node, f"{_describe_target(node)} of rank {self.rank[args[0]]} and {self.rank[args[1]]} tensors: "
                        f"nsafuse's matmul takes two matrices")
        extra = [f"out_dtype={self.dtype(node, out_dtype)}"] if out_dtype is not None else []
        return self.emit(node, "matmul", [a, b] + extra, 2)

    def dim_arg(self, node, args, kwargs, i, what="dim"):
        v = kwargs.pop(what, args[i] if len(args) > i else None)
        if v is None:
            return None
        return self.int_arg(node, v, what)

    def unsqueeze(self, node, args, kwargs):
        dim = self.dim_arg(node, args, kwargs, 1)
        self.no_kwargs(node, kwargs)
        if dim is None:
            _fail(node, "unsqueeze needs a dim")
        x = self.tensor(node, args[0], "the operand")
        return self.emit(node, "unsqueeze", [x, str(dim)], self.rank[args[0]] + 1)

    def squeeze(self, node, args, kwargs):
        dim = self.dim_arg(node, args, kwargs, 1)
        self.no_kwargs(node, kwargs)
        if dim is None:
            _fail(node, "squeeze() without a dim depends on the sizes of a call; name the dim: squeeze(dim)")
        x = self.tensor(node, args[0], "the operand")
        return self.emit(node, "squeeze", [x, str(dim)], self.rank[args[0]] - 1)

    def transpose(self, node, args, kwargs, t=False):
        x = self.tensor(node, args[0], "the operand")
        rank = self.rank[args[0]]
        if t:
            self.no_kwargs(node, kwargs)
            if rank > 2:
                _fail(node, f".t()/.T of a rank {rank} tensor is outside nsafuse's contract (use transpose)")
            if rank < 2:
                self.rank[node] = rank
                self.names[node] = self.names[args[0]]
                return None
            return self.emit(node, "transpose", [x, "0", "1"], rank)
        d0 = self.dim_arg(node, args, kwargs, 1, "dim0")
        d1 = self.dim_arg(node, args, kwargs, 2, "dim1")
        self.no_kwargs(node, kwargs)
        if d0 is None or d1 is None:
            _fail(node, "transpose needs two dims")
        return self.emit(node, "transpose", [x, str(d0), str(d1)], rank)

    def getitem(self, node, args):
        import torch.fx
        base, index = args
        if not isinstance(base, torch.fx.Node) or base not in self.rank:
            self.unsupported(node)
        items = index if isinstance(index, tuple) else (index,)
        rank = self.rank[base]
        consuming = sum(1 for it in items if isinstance(it, (slice, int)) and not isinstance(it, bool))
        if sum(1 for it in items if it is Ellipsis) > 1:
            _fail(node, "an index with more than one '...'")
        if consuming > rank:
            _fail(node, f"too many indices for a rank {rank} tensor")
        cur = self.tensor(node, base, "the indexed tensor")
        d = 0
        steps = []
        for it in items:
            if it is Ellipsis:
                d += rank - consuming
            elif it is None:
                steps.append(("unsqueeze", [str(d)], +1))
                d += 1
            elif isinstance(it, slice):
                start, stop, step = it.start, it.stop, it.step
                for v, what in ((start, "slice start"), (stop, "slice end"), (step, "slice step")):
                    if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                        _fail(node, f"{what} {v!r}: slices with tensors or non-int bounds are outside nsafuse's "
                                    f"contract")
                if step is not None and step < 1:
                    _fail(node, f"slice step {step}: only positive steps")
                if start in (None, 0) and stop is None and step in (None, 1):
                    d += 1
                    continue
                a = [str(d), str(start or 0)]
                if stop is not None or step not in (None, 1):
                    a.append(str(stop if stop is not None else _TO_END))
                if step not in (None, 1):
                    a.append(str(step))
                steps.append(("slice", a, 0))
                d += 1
            elif isinstance(it, int) and not isinstance(it, bool):
                end = it + 1 if it != -1 else _TO_END
                steps.append(("slice", [str(d), str(it), str(end)], 0))
                steps.append(("squeeze", [str(d)], -1))
            else:
                _fail(node, f"indexing with {type(it).__name__} is outside nsafuse's contract (slices, None, ... and "
                            f"ints only)")
        if not steps:
            self.rank[node] = rank
            self.names[node] = self.names[base]
            return None
        for i, (op, a, delta) in enumerate(steps):
            last = i == len(steps) - 1
            name = node.name if last else self.fresh(node.name)
            rank += delta
            self.lines.append((f"%{name} = {op}({cur}, {', '.join(a)})", node.meta.get("nsafuse_source")))
            cur = f"%{name}"
        self.rank[node] = rank
        self.names[node] = node.name
        return None

    # -- the text -------------------------------------------------------------

    def text(self, outputs):
        params = ", ".join(f"%{n}: {d}[{dims}]" for n, (d, dims, _) in self.params.items())
        body = []
        width = max((len(s) for s, _ in self.lines), default=0)
        for stmt, src in self.lines:
            comment = ""
            if src:
                comment = f"  # {os.path.basename(src[0])}:{src[1]}: {src[2]}"
                if len(comment) > _COMMENT_WIDTH:
                    comment = comment[:_COMMENT_WIDTH - 3] + "..."
            body.append(f"  {stmt.ljust(width)}{comment}".rstrip())
        body.append(f"  return {', '.join(outputs)}")
        return f"graph {self.graph_name}({params}) {{\n" + "\n".join(body) + "\n}\n"


def graph_name_for(fn):
    name = re.sub(r"[^A-Za-z0-9_]", "_", getattr(fn, "__name__", "traced"))
    return name if name and not name[0].isdigit() else "traced_" + name


def fx_trace(fn, names, constants):
    """The torch.fx graph of fn called with placeholders for the tensors
    named names (in order) and the constants (name -> value)."""
    import torch
    source = _Source(torch)
    tracer = _make_tracer(torch, source)
    signature = inspect.signature(fn)
    tensor_names = list(names)

    def call(*proxies):
        bound = dict(constants)
        bound.update(zip(tensor_names, proxies))
        args, kwargs = [], {}
        for p in signature.parameters.values():
            if p.name not in bound:
                continue
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                args.append(bound[p.name])
            elif p.kind == p.VAR_POSITIONAL:
                args.extend(bound[p.name])
            elif p.kind == p.KEYWORD_ONLY:
                kwargs[p.name] = bound[p.name]
            else:
                kwargs.update(bound[p.name])
        return fn(*args, **kwargs)

    # fx names placeholders after the root function's parameters: a small
    # function with exactly the tensors as parameters.
    gname = graph_name_for(fn)
    src = f"def {gname}({', '.join(tensor_names)}):\n    return __nsafuse_call({', '.join(tensor_names)})\n"
    scope = {"__nsafuse_call": call}
    exec(builtins.compile(src, "<nsafuse-trace>", "exec"), scope)
    try:
        return tracer.trace(scope[gname])
    except Error:
        raise
    except Exception as e:
        raise _trace_error(e, fn) from None


# Ops whose operand passes through unchanged in its role (a weight stays a weight).
_PASS_METHODS = {"t", "transpose", "to", "float", "half", "bfloat16", "double", "contiguous", "detach", "clone", "type"}


def weight_names(graph):
    """Arguments used as a GEMM's weight (linear's second operand, matmul's
    second), directly or through views and casts: their leading size is the
    number of output features, never the leading (token) size."""
    import torch
    ops = _Ops(torch)
    found = set()
    for node in graph.nodes:
        if node.op != "call_function" and not (node.op == "call_method" and node.target in ("matmul", "mm")):
            continue
        if node.op == "call_function" and node.target not in ops.linear and node.target not in ops.matmul_fn:
            continue
        w = node.args[1] if len(node.args) > 1 else None
        while isinstance(w, torch.fx.Node) and w.op != "placeholder":
            passes = (w.op == "call_method" and w.target in _PASS_METHODS) or \
                (w.op == "call_function" and (w.target in ops.transpose_fn or
                                              (w.target is builtins.getattr and w.args[1:] == ("T",))))
            w = w.args[0] if passes and w.args else None
        if isinstance(w, torch.fx.Node):
            found.add(w.name)
    return found


def graph_text(fn, graph, tensors, dims):
    """Graph text for an fx graph of fn (fx_trace) whose placeholders are the
    tensors, with dims[i] the dims text of tensor i. Returns (text,
    line_sources, output structure)."""
    import torch
    import torch.fx
    dtype_names = _torch_dtype_names(torch)
    params = {}
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    for node, t, d in zip(placeholders, tensors, dims):
        params[node.name] = (dtype_names.get(t.dtype), d, t.dim())
        if params[node.name][0] is None:
            raise Error(f"argument {node.name}: dtype {t.dtype} is not one nsafuse computes with")
    em = _Emitter(torch, graph_name_for(fn), params, dtype_names)
    out_node = None
    for node in graph.nodes:
        em.node(node)
        if node.op == "output":
            out_node = node
    result = out_node.args[0]
    if isinstance(result, (tuple, list)):
        items, structure = list(result), type(result)
    else:
        items, structure = [result], None
    outputs = []
    for r in items:
        if not isinstance(r, torch.fx.Node) or r not in em.rank:
            raise Error(f"{graph_name_for(fn)} returns {r!r}; nsafuse graphs return tensors computed from the "
                        f"arguments")
        outputs.append(f"%{em.names[r]}")
    text = em.text(outputs)
    line_sources = {i + 2: src for i, (_, src) in enumerate(em.lines)}
    return text, line_sources, structure


def _trace_error(e, fn):
    """A tracing failure (control flow on a tensor, an unsupported Python
    builtin) as an Error pointing at the user's line."""
    tb = e.__traceback__
    where = None
    code_file = getattr(getattr(fn, "__code__", None), "co_filename", None)
    while tb is not None:
        f = tb.tb_frame.f_code.co_filename
        if f == code_file or not (f.startswith(os.path.dirname(os.path.abspath(__file__))) or "/torch/" in f
                                  or f.startswith("<nsafuse")):
            where = (f, tb.tb_lineno)
        tb = tb.tb_next
    msg = f"cannot trace {getattr(fn, '__name__', fn)}: {type(e).__name__}: {e}"
    if where:
        line = linecache.getline(where[0], where[1]).strip()
        msg = f"{where[0]}:{where[1]}: {msg}" + (f"\n    {line}" if line else "")
    return Error(msg)
