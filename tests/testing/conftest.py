"""Fixtures for tests of kwire's test tooling (plugin, in-process broker, faults, docker/).

pytest's `pytester` plugin is enabled here; pytest allows that only in
conftests it loads at start-up, which is why this directory's name starts
with "test" (pytest loads `tests/test*/conftest.py` up front). Inner runs
use `runpytest_subprocess`, so each is a fresh process whose broker
processes and temp dirs can be checked after it ends.
"""

pytest_plugins = ["pytester"]
