// Portable SIMD helpers (GCC/Clang vector extensions): packets of 8 doubles or
// 8 floats, which the compiler maps to AVX-512, AVX2 or narrower registers per
// -march, and exponentials built only from FMAs and bit operations, accurate
// to about one ulp, for the streaming reductions of the entropic kernels.
// Header-only, pure functions.
#ifndef OTSERVE_CORE_COMMON_SIMD_H_
#define OTSERVE_CORE_COMMON_SIMD_H_

#include <cstdint>
#include <cstring>

namespace otcore::simd {

inline constexpr int kLanes = 8;
typedef double V8d __attribute__((vector_size(64)));
typedef float V8f __attribute__((vector_size(32)));
typedef int64_t V8l __attribute__((vector_size(64)));
typedef int32_t V8i __attribute__((vector_size(32)));

// The bits of one packet as another of the same size.
template <typename To, typename From>
inline To BitCast(From v) {
  static_assert(sizeof(To) == sizeof(From));
  To t;
  std::memcpy(&t, &v, sizeof(t));
  return t;
}

inline V8d Load(const double* p) {
  V8d v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void Store(double* p, V8d v) { std::memcpy(p, &v, sizeof(v)); }
inline V8d Broadcast(double x) { return V8d{} + x; }
inline V8d Max(V8d a, V8d b) { return a > b ? a : b; }
inline double HorizontalMax(V8d v) {
  double m = v[0];
  for (int k = 1; k < kLanes; ++k) m = v[k] > m ? v[k] : m;
  return m;
}
inline double HorizontalSum(V8d v) {
  return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

// exp(x) for x <= 0 (the shifted exponents of a log-sum-exp): 0 below -708
// (and for -inf), else Cody-Waite reduction to |r| <= ln2 / 2 and a degree-12
// Taylor polynomial (truncation < 2e-16 relative).
inline V8d ExpNonPositive(V8d x) {
  const V8d lo = Broadcast(-708.0);
  const V8l underflow = x < lo;
  x = x < lo ? lo : x;
  const V8d shifter = Broadcast(0x1.8p52);
  const V8d t = x * 1.4426950408889634 + shifter;
  const V8d k = t - shifter;
  V8d r = x - k * 6.93145751953125e-1;
  r = r - k * 1.42860682030941723212e-6;
  V8d p = Broadcast(1.0 / 479001600.0);
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // 2^k from the low bits of t (k + 1023 in the exponent field).
  const V8l ki = BitCast<V8l>(t) - BitCast<V8l>(shifter) + int64_t{1023};
  const V8l bits = ki << 52;
  const V8d scaled = p * BitCast<V8d>(bits);
  return underflow ? V8d{} : scaled;
}

// The same in float32 arithmetic (|x| <= 87, degree-7 polynomial, about one
// float ulp): 0 below -87.
inline V8f ExpNonPositive(V8f x) {
  const V8f lo = V8f{} - 87.0f;
  const V8i underflow = x < lo;
  x = x < lo ? lo : x;
  const V8f shifter = V8f{} + 0x1.8p23f;
  const V8f t = x * 1.44269504f + shifter;
  const V8f k = t - shifter;
  V8f r = x - k * 0.693359375f;
  r = r - k * -2.12194440e-4f;
  V8f p = V8f{} + 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const V8i ki = BitCast<V8i>(t) - BitCast<V8i>(shifter) + 127;
  const V8i bits = ki << 23;
  const V8f scaled = p * BitCast<V8f>(bits);
  return underflow ? V8f{} : scaled;
}

// exp(x) for x <= 0 evaluated in float32, returned in float64 (the
// reduced-precision kernels accumulate the terms in float64).
inline V8d ExpNonPositiveF32(V8d x) {
  return __builtin_convertvector(
      ExpNonPositive(__builtin_convertvector(x, V8f)), V8d);
}

}  // namespace otcore::simd

#endif  // OTSERVE_CORE_COMMON_SIMD_H_
