// seg's AVX2 loops, chosen at run time (the addon is built for the baseline x86-64 ISA): each does
// exactly the operations of the portable loop it stands for, lane by lane, so the bits are the same
// (no FMA: binding.gyp's -ffp-contract=off, and no "fma" target here).
#include "common.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>

#if SEG_X86
#include <immintrin.h>
#endif

namespace segtorch {
namespace {

bool cpuHasAvx2() {
#if SEG_X86
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
#else
  return false;
#endif
}

std::atomic<bool>& avx2Setting() {
  static std::atomic<bool> on{cpuHasAvx2() && !(std::getenv("SEG_TORCH_AVX2") && std::string(std::getenv("SEG_TORCH_AVX2")) == "0")};
  return on;
}

#if SEG_X86
// expNonPositive on eight lanes.
__attribute__((target("avx2"))) inline __m256 expNonPositive8(__m256 x) {
  x = _mm256_max_ps(_mm256_set1_ps(-87.0f), x);  // std::max(x, -87): x where x is NaN
  const __m256 shifter = _mm256_set1_ps(12582912.f);
  const __m256 n = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), shifter), shifter);
  const __m256 r = _mm256_add_ps(_mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(0.693359375f))), _mm256_mul_ps(n, _mm256_set1_ps(2.12194440e-4f)));
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(p, r), r), r), _mm256_set1_ps(1.f));
  const __m256i scale = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(scale));
}

// Columns [c0, c0 + 8) of the eight rows r[0..7] into t class-major: t[(c − c0)·8 + k] = r[k][c].
__attribute__((target("avx2"))) inline void transpose8(const float* const r[8], int64_t c0, float* t) {
  __m256 a[8], u[8];
  for (int k = 0; k < 8; k++) a[k] = _mm256_loadu_ps(r[k] + c0);
  for (int k = 0; k < 8; k += 2) u[k] = _mm256_unpacklo_ps(a[k], a[k + 1]), u[k + 1] = _mm256_unpackhi_ps(a[k], a[k + 1]);
  for (int k = 0; k < 8; k += 4) {
    a[k] = _mm256_shuffle_ps(u[k], u[k + 2], 0x44), a[k + 1] = _mm256_shuffle_ps(u[k], u[k + 2], 0xEE);
    a[k + 2] = _mm256_shuffle_ps(u[k + 1], u[k + 3], 0x44), a[k + 3] = _mm256_shuffle_ps(u[k + 1], u[k + 3], 0xEE);
  }
  for (int k = 0; k < 4; k++) {
    _mm256_store_ps(t + 8 * k, _mm256_permute2f128_ps(a[k], a[k + 4], 0x20));
    _mm256_store_ps(t + 8 * (k + 4), _mm256_permute2f128_ps(a[k], a[k + 4], 0x31));
  }
}

// softmax8's work: the rows gathered class-major into t (8 lanes a class), softmaxRow's three passes on the lanes.
__attribute__((target("avx2"))) void softmax8Avx2(const float* x, const int64_t* rows, int64_t D, float* y, int64_t rowStride, int64_t classStride) {
  alignas(32) float t[8 * kSoftmax8MaxD];
  const float* r[8];
  for (int k = 0; k < 8; k++) r[k] = x + rows[k] * D;
  if (D >= 8) {
    // where 8 ∤ D the last block overlaps the one before it (rewriting the same values)
    for (int64_t c0 = 0; c0 < D; c0 += 8) {
      const int64_t c = std::min(c0, D - 8);
      transpose8(r, c, t + c * 8);
    }
  } else {
    for (int k = 0; k < 8; k++)
      for (int64_t c = 0; c < D; c++) t[c * 8 + k] = r[k][c];
  }
  __m256 mx = _mm256_load_ps(t);
  for (int64_t c = 1; c < D; c++) mx = _mm256_max_ps(_mm256_load_ps(t + c * 8), mx);  // std::max(mx, x): mx unless x > mx
  __m256 sum = _mm256_setzero_ps();
  for (int64_t c = 0; c < D; c++) {
    const __m256 e = expNonPositive8(_mm256_sub_ps(_mm256_load_ps(t + c * 8), mx));
    _mm256_store_ps(t + c * 8, e);
    sum = _mm256_add_ps(sum, e);
  }
  const __m256 inv = _mm256_div_ps(_mm256_set1_ps(1.f), sum);
  if (rowStride == 1) {
    for (int64_t c = 0; c < D; c++) _mm256_storeu_ps(y + c * classStride, _mm256_mul_ps(_mm256_load_ps(t + c * 8), inv));
    return;
  }
  for (int64_t c = 0; c < D; c++) _mm256_store_ps(t + c * 8, _mm256_mul_ps(_mm256_load_ps(t + c * 8), inv));
  for (int k = 0; k < 8; k++)
    for (int64_t c = 0; c < D; c++) y[k * rowStride + c * classStride] = t[c * 8 + k];
}
#endif

}  // namespace

bool useAvx2() { return avx2Setting().load(std::memory_order_relaxed); }

bool setAvx2(bool on) { return avx2Setting().exchange(on && cpuHasAvx2()); }

bool softmax8(const float* x, const int64_t* rows, int64_t D, float* y, int64_t rowStride, int64_t classStride) {
#if SEG_X86
  if (D >= 1 && D <= kSoftmax8MaxD && useAvx2()) {
    softmax8Avx2(x, rows, D, y, rowStride, classStride);
    return true;
  }
#endif
  return false;
}

}  // namespace segtorch
