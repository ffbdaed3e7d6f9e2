"""nsafuse from Python: compile a graph (text or a .nf file) and call it on
PyTorch, NumPy, CuPy or any DLPack tensors; or trace a PyTorch function with
@nsafuse.jit. See docs/PYTHON.md."""

from ._lib import Error
from ._kernel import Kernel, compile
from ._jit import jit, trace

__version__ = "0.1.0"
__all__ = ["Error", "Kernel", "compile", "jit", "trace"]
