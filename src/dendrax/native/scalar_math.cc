// Scalar helpers shared by dendrax's generated native kernels (source.py pastes this file
// where a template says @SCALAR_MATH@): XLA's NaN-propagating max/min, and a branch-free exp,
// log and pow that vectorise. Inside `namespace {`, after <cmath>, <cstdint>, <cstring> and
// <limits>. Always inlined, however large the kernel: a call in a loop over sites keeps it
// from vectorising (GCC stops inlining into very large functions).

// XLA's max/min: NaN if either operand is NaN.
template <class U>
inline __attribute__((always_inline)) U dx_max(U a, U b) {
  return a != a ? a : (b != b ? b : (a > b ? a : b));
}
template <class U>
inline __attribute__((always_inline)) U dx_min(U a, U b) {
  return a != a ? a : (b != b ? b : (a < b ? a : b));
}

// p * r + c, fused where the CPU can (only inside dx_exp, dx_log and dx_pow, whose results
// are within an ulp or two either way; everywhere else the kernel keeps the pure-JAX path's
// separate roundings).
inline double fma_or_not(double p, double r, double c) {
#ifdef __FMA__
  return __builtin_fma(p, r, c);
#else
  return p * r + c;
#endif
}

// exp(x) = 2^n exp(r) with x = n ln2 + r, |r| <= ln2/2, and exp(r) = 1 + (r + r^2 h(r)),
// h a degree-9 polynomial: the Chebyshev fit of (exp(r) - 1 - r)/r^2 on [-ln2/2, ln2/2]
// (mpmath's chebyfit at 50 digits: within 1.1e-16 of it, so within 1.3e-17 of exp relative;
// rounding errors in h are scaled by r^2 < 0.121). 2^n is applied in two halves so that
// results down to subnormals are right. Branch-free, so that loops vectorise. Beyond
// |x| = 1400 (where n would leave the halves' range) the result is chosen at the end: 0 or
// inf (NaN passes through the arithmetic); choosing costs a vectorised loop 2 compares and
// 2 blends, where clamping x first cost it 4 compares and 3 blends.
inline __attribute__((always_inline)) double dx_exp(double x) {
  const double shifter = 0x1.8p52;
  const double kd = fma_or_not(x, 0x1.71547652b82fep0, shifter);
  const double n = kd - shifter;
#ifdef __FMA__
  // x - n ln2_hi is exact: |n| < 2^11, and where n != 0 its bits lie in 2^-54 .. 2^-2.
  const double r =
      __builtin_fma(-n, 0x1.abc9e3b39803fp-56, __builtin_fma(-n, 0x1.62e42fefa39efp-1, x));
#else
  // Cody-Waite: ln2_hi has 21 trailing zero bits, so n ln2_hi is exact.
  const double r = (x - n * 0x1.62e42feep-1) - n * 0x1.a39ef35793c76p-33;
#endif
  double h = 0x1.af389ecfc4b9cp-26;
  h = fma_or_not(h, r, 0x1.28917c89a43a7p-22);
  h = fma_or_not(h, r, 0x1.71de0db2f6b19p-19);
  h = fma_or_not(h, r, 0x1.a019b9149a41cp-16);
  h = fma_or_not(h, r, 0x1.a01a01a7c2efep-13);
  h = fma_or_not(h, r, 0x1.6c16c17889ef1p-10);
  h = fma_or_not(h, r, 0x1.11111111109b5p-7);
  h = fma_or_not(h, r, 0x1.5555555553d68p-5);
  h = fma_or_not(h, r, 0x1.5555555555556p-3);
  h = fma_or_not(h, r, 0x1.0000000000001p-1);
  const double p = 1.0 + fma_or_not(h, r * r, r);
  // kd's bits are shifter's plus n (|n| < 2^51): u = n + 2046, and with n1 = floor(n / 2)
  // (u >> 1 = n1 + 1023, u - (u >> 1) = n - n1 + 1023) the halves' biased exponents.
  uint64_t bits;
  std::memcpy(&bits, &kd, sizeof bits);
  const uint64_t u = bits - (0x4338000000000000ull - 2046);
  const uint64_t e1 = u >> 1;
  const uint64_t bits1 = e1 << 52;        // 2^n1
  const uint64_t bits2 = (u - e1) << 52;  // 2^(n - n1)
  double scale1, scale2;
  std::memcpy(&scale1, &bits1, sizeof scale1);
  std::memcpy(&scale2, &bits2, sizeof scale2);
  const double result = p * scale1 * scale2;
  const double low = x < -1400.0 ? 0.0 : result;
  return x > 1400.0 ? std::numeric_limits<double>::infinity() : low;
}

// x = 2^e m with m in [sqrt(1/2), sqrt(2)) (e as a double), for x > 0; subnormals are
// scaled by 2^54 first. The reduction of dx_log and dx_pow.
inline __attribute__((always_inline)) void log_reduction(double x, double& e, double& m) {
  const bool tiny = x < 0x1p-1022;
  const double scaled = tiny ? x * 0x1p54 : x;
  uint64_t bits;
  std::memcpy(&bits, &scaled, sizeof bits);
  e = static_cast<double>(static_cast<int64_t>((bits >> 52) & 0x7FF) - 1023);
  const uint64_t mantissa_bits = (bits & 0xFFFFFFFFFFFFFull) | 0x3FF0000000000000ull;
  std::memcpy(&m, &mantissa_bits, sizeof m);
  const bool upper = m > 0x1.6a09e667f3bcdp0;  // sqrt(2)
  m = upper ? m * 0.5 : m;
  e = upper ? e + 1.0 : e;
  e = tiny ? e - 54.0 : e;
}

// 1/3 + z/5 + z^2/7 + ... + z^8/19 + z^9 p by Horner's scheme, where p is 1/21 or the
// series' longer tail 1/21 + z/23 + ...: log(m) = 2 s + 2 s z atanh_series(p, z), z = s^2,
// in dx_log and dx_pow.
inline __attribute__((always_inline)) double atanh_series(double p, double z) {
  p = fma_or_not(p, z, 0x1.af286bca1af28p-5);  // 1/19
  p = fma_or_not(p, z, 0x1.e1e1e1e1e1e1ep-5);  // 1/17
  p = fma_or_not(p, z, 0x1.1111111111111p-4);  // 1/15
  p = fma_or_not(p, z, 0x1.3b13b13b13b14p-4);  // 1/13
  p = fma_or_not(p, z, 0x1.745d1745d1746p-4);  // 1/11
  p = fma_or_not(p, z, 0x1.c71c71c71c71cp-4);  // 1/9
  p = fma_or_not(p, z, 0x1.2492492492492p-3);  // 1/7
  p = fma_or_not(p, z, 0x1.999999999999ap-3);  // 1/5
  return fma_or_not(p, z, 0x1.5555555555555p-2);  // 1/3
}

// log(x) = e ln2 + log(m) with x = 2^e m, m in [sqrt(1/2), sqrt(2)), and
// log(m) = 2 atanh(s) = 2 (s + s^3/3 + ... + s^21/21), s = (m - 1)/(m + 1), |s| < 0.172
// (truncation < 3e-17 relative). Branch-free, so that loops vectorise; log(0) = -inf,
// log(x < 0) = NaN, log(inf) = inf, log(NaN) = NaN, subnormals scaled first.
inline __attribute__((always_inline)) double dx_log(double x) {
  double e, m;
  log_reduction(x, e, m);
  const double s = (m - 1.0) / (m + 1.0);
  const double z = s * s;
  const double p = atanh_series(0x1.8618618618618p-5, z);  // from 1/21
  const double two_s = 2.0 * s;
  const double log_m = two_s + two_s * (z * p);
  const double result = e * 0x1.62e42feep-1 + (log_m + e * 0x1.a39ef35793c76p-33);
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  return x == 0.0 ? -inf : ((x < 0.0 || x != x) ? nan : (x == inf ? inf : result));
}

// The rounding error of the product p * q: p q = (p * q) + product_error(p, q, p * q),
// exactly (by a fused multiply-add, else by Dekker's splitting, for |p|, |q| < 2^995).
inline double product_error(double p, double q, double product) {
#ifdef __FMA__
  return __builtin_fma(p, q, -product);
#else
  const double split = 0x1.0000002p27;  // 2^27 + 1
  const double cp = split * p, cq = split * q;
  const double p_hi = cp - (cp - p), q_hi = cq - (cq - q);
  const double p_lo = p - p_hi, q_lo = q - q_hi;
  return ((p_hi * q_hi - product) + p_hi * q_lo + p_lo * q_hi) + p_lo * q_lo;
#endif
}

// x^y as C's pow (signs, zeros, infinities, NaNs), branch-free so that loops vectorise:
// exp(y log|x|) with log|x| carried as a sum of two doubles (dx_log's reduction, s = (m - 1)/
// (m + 1) and the reduction's ln 2 in head and tail, the atanh series to s^25) and y log|x|
// as head + tail: within 2 ulp of the exact value while |y log x| <= 50, within
// 2 + |y log x| / 40 ulp up to overflow (tests/test_scalar_math.py).
inline __attribute__((always_inline)) double dx_pow(double x, double y) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double ax = std::abs(x);
  double e, m;
  log_reduction(ax, e, m);
  // s = a / (b + b_lo) as s_hi + s_lo: a = m - 1 and b - 1 are exact, b_lo is m + 1's
  // rounding error; s_hi within an ulp or two, s_lo its residual.
  const double a = m - 1.0;
  const double b = m + 1.0;
  const double b_lo = m - (b - 1.0);
  const double inverse_b = 1.0 / b;
  const double s_hi = a * inverse_b;
  const double product = s_hi * b;
  const double residual = ((a - product) - product_error(s_hi, b, product)) - s_hi * b_lo;
  const double s_lo = residual * inverse_b;
  const double z = s_hi * s_hi;
  const double p23 = fma_or_not(0x1.47ae147ae147bp-5, z, 0x1.642c8590b2164p-5);  // 1/25, 1/23
  const double p = atanh_series(fma_or_not(p23, z, 0x1.8618618618618p-5), z);  // from 1/21
  // log|x| = e ln2_hi + 2 s_hi (exactly summed) + 2 s_lo + 2 s_hi z p + e ln2_lo.
  const double head = e * 0x1.62e42feep-1;  // exact: 32 bits times at most 11
  const double two_s = 2.0 * s_hi;
  const double sum = head + two_s;  // |two_s| < 0.35 < ln 2 <= |head| unless head = 0
  const double sum_error = (head - sum) + two_s;
  const double tail =
      sum_error + ((2.0 * s_lo + two_s * (z * p)) + e * 0x1.a39ef35793c76p-33);
  const double log_hi = sum + tail;
  const double log_lo = tail - (log_hi - sum);
  // y log|x| = t_hi + t_lo; exp(t_hi + t_lo) = exp(t_hi) (1 + t_lo), |t_lo| < 2^-42.
  const double special_log = ax == 0.0 ? -inf : ax;  // 0, inf, NaN
  const bool regular = (ax > 0.0) & (ax < inf);
  const double t_hi = y * (regular ? log_hi : special_log);
  const double t_lo = product_error(y, log_hi, t_hi) + y * log_lo;
  const double magnitude = dx_exp(t_hi);
  const bool saturated = (magnitude == 0.0) | (magnitude == inf) | !regular;
  const double result = saturated ? magnitude : magnitude + magnitude * t_lo;
  // Negative x: odd integer y flips the sign, other integers keep it, the rest is NaN.
  const bool integer = std::floor(y) == y;
  const bool odd = integer & (std::floor(0.5 * y) != 0.5 * y);
  uint64_t x_bits;  // the sign bit (std::signbit keeps GCC 12 from vectorising)
  std::memcpy(&x_bits, &x, sizeof x_bits);
  const bool negative = (x_bits >> 63) != 0;
  const double signed_result = (negative & odd) ? -result : result;
  const bool invalid = (x < 0.0) & (x > -inf) & !integer;
  const bool one = (y == 0.0) | (x == 1.0) | ((x == -1.0) & (std::abs(y) == inf));
  return one ? 1.0 : (invalid ? nan : signed_result);
}

// In float through double (exact conversions; one rounding at the end).
inline __attribute__((always_inline)) float dx_log(float x) { return static_cast<float>(dx_log(static_cast<double>(x))); }
inline __attribute__((always_inline)) float dx_pow(float x, float y) {
  return static_cast<float>(dx_pow(static_cast<double>(x), static_cast<double>(y)));
}

// The same in float: Cody-Waite reduction with float constants, Taylor series to degree 7
// (truncation < 1e-8 relative), 2^n in two halves, 0 or inf chosen beyond |x| = 150.
inline float fma_or_not(float p, float r, float c) {
#ifdef __FMA__
  return __builtin_fmaf(p, r, c);
#else
  return p * r + c;
#endif
}

inline __attribute__((always_inline)) float dx_exp(float x) {
  const float shifter = 0x1.8p23f;
  const float kf = x * 0x1.715476p0f + shifter;
  const float n = kf - shifter;
  const float r = (x - n * 0x1.62e4p-1f) - n * 0x1.7f7d1cp-20f;
  float p = 0x1.a01a02p-13f;
  p = fma_or_not(p, r, 0x1.6c16c2p-10f);
  p = fma_or_not(p, r, 0x1.111112p-7f);
  p = fma_or_not(p, r, 0x1.555556p-5f);
  p = fma_or_not(p, r, 0x1.555556p-3f);
  p = fma_or_not(p, r, 0x1.0p-1f);
  p = fma_or_not(p, r, 1.0f);
  p = fma_or_not(p, r, 1.0f);
  uint32_t bits;
  std::memcpy(&bits, &kf, sizeof bits);
  const uint32_t u = bits - (0x4B400000u - 254);  // n + 254
  const uint32_t e1 = u >> 1;                     // n1 + 127
  const uint32_t bits1 = e1 << 23;                // 2^n1
  const uint32_t bits2 = (u - e1) << 23;          // 2^(n - n1)
  float scale1, scale2;
  std::memcpy(&scale1, &bits1, sizeof scale1);
  std::memcpy(&scale2, &bits2, sizeof scale2);
  const float result = p * scale1 * scale2;
  const float low = x < -150.0f ? 0.0f : result;
  return x > 150.0f ? std::numeric_limits<float>::infinity() : low;
}
