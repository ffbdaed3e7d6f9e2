"""pytest setup: nsafuse from the source tree (python/), the library the
build made ($NSAFUSE_LIBRARY, set by `meson test`), and a `cuda` marker for
tests that need torch with a GPU."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))

if not os.environ.get("NSAFUSE_LIBRARY"):
    pytest.exit("set NSAFUSE_LIBRARY to the built libnsafuse.so (meson test does), e.g. "
                "NSAFUSE_LIBRARY=build/libnsafuse.so", returncode=2)


def _cuda_available():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


CUDA = _cuda_available()


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs torch with a CUDA GPU (runs on the GPU machine)")


def pytest_collection_modifyitems(config, items):
    if CUDA:
        return
    skip = pytest.mark.skip(reason="no CUDA GPU visible to torch")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def device(request):
    """Each torch test runs on the host, and on the GPU where there is one."""
    return request.param


@pytest.fixture
def root():
    return ROOT
