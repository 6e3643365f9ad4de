"""The native kernels' scalar math (dendrax/native/scalar_math.cc) against numpy.

scalar_math.cc is compiled on its own, with the kernels' flags (and once more without fused
multiply-adds, for CPUs without them), into a small library whose loops apply dx_pow
and dx_exp elementwise (vectorised as in a kernel's loop over sites); numpy's pow and exp
(the C library's, within an ulp) are the references.
"""

import ctypes
import shutil
import subprocess

import numpy as np
import pytest

from dendrax.native import library
from dendrax.native.source import template_text

EPS = np.finfo(np.float64).eps

WRAPPERS = """
extern "C" void pow64(const double* x, const double* y, double* out, long n) {
  for (long i = 0; i < n; ++i) out[i] = dx_pow(x[i], y[i]);
}
extern "C" void exp64(const double* x, double* out, long n) {
  for (long i = 0; i < n; ++i) out[i] = dx_exp(x[i]);
}
extern "C" void exp32(const float* x, float* out, long n) {
  for (long i = 0; i < n; ++i) out[i] = dx_exp(x[i]);
}
extern "C" void pow32(const float* x, const float* y, float* out, long n) {
  for (long i = 0; i < n; ++i) out[i] = dx_pow(x[i], y[i]);
}
"""


@pytest.fixture(scope="module", params=[(), ("-mno-fma",)], ids=["flags", "no-fma"])
def scalar_math(request, tmp_path_factory):
    """The compiled scalar math with `pow64` and `pow32` over arrays."""
    if shutil.which(library.compiler()) is None:
        pytest.skip(f"no C++ compiler {library.compiler()!r}")
    folder = tmp_path_factory.mktemp("scalar_math")
    source = folder / "scalar_math.cc"
    headers = "".join(f"#include <{h}>\n" for h in ("cmath", "cstdint", "cstring", "limits"))
    source.write_text(f"{headers}namespace {{\n{template_text('scalar_math.cc')}\n}}\n{WRAPPERS}")
    target = folder / "scalar_math.so"
    command = [library.compiler(), *library.flags(), *request.param, str(source), "-o", str(target)]
    subprocess.run(command, check=True)
    return ctypes.CDLL(str(target))


def dx_pow(lib, x, y, dtype=np.float64):
    x, y = (np.ascontiguousarray(a, dtype) for a in np.broadcast_arrays(x, y))
    out = np.empty_like(x)
    pointer = ctypes.POINTER(ctypes.c_double if dtype == np.float64 else ctypes.c_float)
    function = lib.pow64 if dtype == np.float64 else lib.pow32
    function(*(a.ctypes.data_as(pointer) for a in (x, y, out)), ctypes.c_long(x.size))
    return out


def test_pow_within_an_ulp_or_two_of_numpy_over_its_range(scalar_math):
    rng = np.random.default_rng(0)
    n = 200_000
    # Results from 1e-300 to 1e300: |y log x| up to 690.
    x = 10.0 ** rng.uniform(-300, 300, n)
    y = rng.uniform(-1, 1, n) * 299 / np.abs(np.log10(x))
    exponent = np.abs(y * np.log(x))
    relative = np.abs(dx_pow(scalar_math, x, y) / np.power(x, y) - 1)
    assert np.all(relative <= EPS * (2 + exponent / 40))
    # Moderate arguments: within 2 ulp.
    x, y = rng.uniform(1e-3, 1e3, n), rng.uniform(-50, 50, n)
    np.testing.assert_allclose(dx_pow(scalar_math, x, y), np.power(x, y), rtol=2 * EPS)
    # SK_E2's (0.00043 / cai) ** 4.8 for cai from 1e-6 to 1 mM.
    x = 0.00043 / 10.0 ** rng.uniform(-6, 0, n)
    np.testing.assert_allclose(dx_pow(scalar_math, x, 4.8), np.power(x, 4.8), rtol=2 * EPS)


def test_exp_within_an_ulp_of_numpy_over_its_range(scalar_math):
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(-745, 709.7, 200_000), rng.uniform(-1, 1, 100_000)])
    ours = np.empty_like(x)
    pointer = ctypes.POINTER(ctypes.c_double)
    scalar_math.exp64(x.ctypes.data_as(pointer), ours.ctypes.data_as(pointer), x.size)
    normal = np.abs(x) < 708
    np.testing.assert_allclose(ours[normal], np.exp(x[normal]), rtol=EPS, atol=0)
    # Subnormal results within an ulp of the smallest subnormal, overflow to inf.
    np.testing.assert_allclose(ours[~normal], np.exp(x[~normal]), rtol=EPS, atol=5e-324)
    # Either side of |x| = 1400, past which the result is chosen rather than computed.
    edge = [-1400.0, 1400.0, np.nextafter(-1400.0, -2e3), np.nextafter(1400.0, 2e3), -1e308]
    special = np.array([0.0, -0.0, 1e-300, -800.0, 710.0, 1e308, -np.inf, np.inf, np.nan, *edge])
    ours = np.empty_like(special)
    scalar_math.exp64(special.ctypes.data_as(pointer), ours.ctypes.data_as(pointer), special.size)
    inf = np.inf
    expected = [1.0, 1.0, 1.0, 0.0, inf, inf, 0.0, inf, np.nan, 0.0, inf, 0.0, inf, 0.0]
    np.testing.assert_array_equal(ours, expected)
    assert not np.signbit(ours[[3, 6, 9, 11, 13]]).any()  # +0, as exp's underflow


def test_exp_in_float_within_an_ulp_over_its_range(scalar_math):
    rng = np.random.default_rng(3)
    pointer = ctypes.POINTER(ctypes.c_float)

    def exp32(x):
        x = np.ascontiguousarray(x, np.float32)
        out = np.empty_like(x)
        scalar_math.exp32(x.ctypes.data_as(pointer), out.ctypes.data_as(pointer), x.size)
        return out

    normal = rng.uniform(-87, 88.7, 200_000).astype(np.float32)
    expected = np.exp(normal.astype(np.float64))
    np.testing.assert_allclose(exp32(normal), expected, rtol=np.finfo(np.float32).eps)
    tiny = rng.uniform(-103, -87.4, 100_000).astype(np.float32)  # subnormal results
    np.testing.assert_allclose(exp32(tiny), np.exp(tiny.astype(np.float64)), rtol=0, atol=1.5e-45)
    # Overflow, underflow, and either side of |x| = 150, past which the result is chosen.
    edge = [150.0, -150.0, np.nextafter(np.float32(150), np.float32(200)), -1e30, 89.0, -104.0]
    special = np.array([0.0, -np.inf, np.inf, np.nan, *edge], np.float32)
    inf = np.inf
    np.testing.assert_array_equal(
        exp32(special), [1.0, 0.0, inf, np.nan, inf, 0.0, inf, 0.0, inf, 0.0]
    )


def test_pow_of_negative_bases_with_integer_exponents(scalar_math):
    rng = np.random.default_rng(1)
    x = rng.uniform(-10, 10, 100_000)
    y = rng.integers(-20, 21, x.size).astype(np.float64)
    ours, expected = dx_pow(scalar_math, x, y), np.power(x, y)
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(expected))
    np.testing.assert_allclose(ours, expected, rtol=2 * EPS)


def test_pow_special_values_as_the_c_library(scalar_math):
    bases = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, 1e308, 5e-324, -1e-310]
    bases += [np.inf, -np.inf, np.nan]
    exponents = [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 0.5, -0.5, 4.8, 1025.0, 1e-300]
    exponents += [1e300, -1e300, np.inf, -np.inf, np.nan]
    x, y = np.meshgrid(bases, exponents)
    with np.errstate(all="ignore"):
        expected = np.power(x, y)
    ours = dx_pow(scalar_math, x, y)
    np.testing.assert_allclose(ours, expected, rtol=2 * EPS, atol=0)  # NaNs and infs alike
    signed = ~np.isnan(expected)
    np.testing.assert_array_equal(np.signbit(ours[signed]), np.signbit(expected[signed]))


def test_pow_in_float_is_rounded_from_double(scalar_math):
    rng = np.random.default_rng(2)
    x = rng.uniform(1e-3, 1e3, 100_000).astype(np.float32)
    y = rng.uniform(-10, 10, x.size).astype(np.float32)
    ours = dx_pow(scalar_math, x, y, np.float32)
    expected = np.power(x.astype(np.float64), y.astype(np.float64))
    np.testing.assert_allclose(ours, expected, rtol=np.finfo(np.float32).eps)
