"""Numerics tests run in float64 with rank promotion disallowed."""

import os

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def one_core():
    """The process held to one core for the test: the native kernel then runs any batch of
    a SIMD lane group or more in lane groups (on more cores it needs a group per core), so
    that the test exercises them whatever the machine."""
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    yield
    os.sched_setaffinity(0, cores)
