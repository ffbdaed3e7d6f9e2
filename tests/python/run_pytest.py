"""Runs the Python tests for `meson test` (tests/meson.build): pytest on this
folder, against $NSAFUSE_LIBRARY. Where pytest or NumPy is not installed it
says so and exits 0 (skipped); without torch, the torch tests skip."""

import importlib.util
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
missing = [m for m in ("pytest", "numpy") if importlib.util.find_spec(m) is None]
if missing:
    print(f"SKIPPED: the Python tests need {' and '.join(missing)} (Debian: python3-pytest python3-numpy "
          f"python3-torch); nothing was run")
    sys.exit(0)
if importlib.util.find_spec("torch") is None:
    print("note: torch is not installed: the torch and tracer tests are skipped")

import pytest  # noqa: E402

status = pytest.main([here, "-q", "-p", "no:cacheprovider", "-rs"] + sys.argv[1:])
if status == pytest.ExitCode.NO_TESTS_COLLECTED:
    print("SKIPPED: pytest collected no tests")
    status = 0
sys.exit(int(status))
