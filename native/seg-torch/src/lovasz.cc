// SegLovaszSoftmax on ATen-owned memory: the Lovász-Softmax loss and its gradient through the softmax
// (src/backend/kernels/lovasz.ts defines the kernel; src/losses/lovasz_softmax_loss.ts is the
// reference, and this computes exactly what it computes: the same float32 errors, the same stable
// order, the same float64 arithmetic in the same order, so the results are bit-identical).
//
// Passes, each parallel with at::parallel_for:
//   compact   the valid pixels' softmax probabilities (softmaxRow, or softmax8 eight at a time, as
//             the torch backend's Softmax) class-major (pT [C, V]) and their labels (lab [V]); per
//             image, the pixels of each class and the class's largest probability on them
//   classes   one task per (set, class), handed out largest set first: candidates (err > 0, and not
//             a background pixel after the last foreground one; scanned eight pixels at a time with
//             AVX2 where the CPU has it), sorted by decreasing error (stable: counted in 2^12 bins
//             of the key range, moved to buckets of adjacent bins, each bucket sorted in cache by
//             two radix passes and walked at once), the walk (four entries at a time with AVX2)
//             giving loss_c and scale · d loss_c / d p_c (dP [C, V])
//   backward  dz = p ⊙ (dP − Σ_c dP_c p_c), NHWC (eight pixels at a time with AVX2), 0 at ignored pixels
// The classes' losses are added in the reference's order after the parallel pass.
//
// No FMA contraction anywhere (-ffp-contract=off in binding.gyp): the reference rounds every
// product and sum in float64.
#include "common.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#if SEG_X86
#include <immintrin.h>
#endif

namespace segtorch {
namespace {

constexpr uint32_t kFgTag = 0x80000000u;  // the top bit of a candidate's index: a foreground pixel
constexpr uint32_t kOneBits = 0x3f800000u;  // bits of 1.0f

inline uint32_t bitsOf(float x) {
  uint32_t b;
  std::memcpy(&b, &x, 4);
  return b;
}
inline float floatOf(uint32_t b) {
  float x;
  std::memcpy(&x, &b, 4);
  return x;
}
// Descending-order key of a positive float32's bits (lovasz_sort.ts's descendingKeyPositive).
inline uint32_t descendingKey(uint32_t bits) { return 0x7fffffffu - bits; }

struct Set {
  int64_t s, e;  // compacted pixels [s, e)
  int64_t n0, n1;  // of the images [n0, n1)
};

struct Inputs {
  const float* pT;  // [C, V]
  const uint16_t* lab;  // [V]
  float* dP;  // [C, V]
  int64_t V, C;
};

// A candidate: its compacted index (top bit: foreground) and its key (ascending = decreasing error).
struct Entry {
  uint32_t tagged, key;
};

constexpr int64_t kScanSlack = 8;  // entries the vector scan may write past the candidates

// A thread's buffers, grown as needed and kept between calls.
struct SortBuffers {
  std::vector<Entry> a, b;
  std::vector<int32_t> binCount, bucketStart, bucketBin, bucketEnd, next;
  std::vector<uint16_t> binBucket;
  // n entries, and room for the vector scan's last stores past them
  void reserve(int64_t n) {
    if (static_cast<int64_t>(a.size()) < n + kScanSlack) a.resize(n + kScanSlack), b.resize(n + kScanSlack);
  }
};

SortBuffers& threadBuffers() {
  thread_local SortBuffers b;
  return b;
}

constexpr int64_t kInsertionMax = 24;  // buckets sorted by insertion up to this many entries
constexpr int kBinBits = 12;  // the first pass counts the entries in 2^12 bins of the key range
constexpr int64_t kBucketEntries = 4096;  // adjacent bins share a bucket up to this many entries
constexpr int kBucketSpanBits = 20;  // and up to a key span of 2^20 (two passes of 10 bits sort it)

// Alg. 1 of Berman et al. (2018), continued over the next sorted entries.
struct Walk {
  double g0, scale, loss = 0, prevJ = 0, cum = 0, k1 = 0;
  float* d;
  void operator()(const Entry* e, int64_t m) {
    for (int64_t i = 0; i < m; i++) {
      const uint32_t v = e[i].tagged & ~kFgTag;
      if (e[i].tagged != v) cum++;
      k1++;
      const double jac = 1 - (g0 - cum) / (g0 + (k1 - cum));
      const double g = jac - prevJ;
      prevJ = jac;
      loss += static_cast<double>(floatOf(0x7fffffffu - e[i].key)) * g;
      d[v] = static_cast<float>(e[i].tagged != v ? -g * scale : g * scale);
    }
  }
#if SEG_X86
  void avx2(const Entry* e, int64_t m);  // the same, four entries at a time
#endif
  void run(const Entry* e, int64_t m) {
#if SEG_X86
    if (useAvx2()) return avx2(e, m);
#endif
    (*this)(e, m);
  }
};

#if SEG_X86
// Walk's loop four entries at a time: each lane does the scalar loop's float64 operations (the
// running counts as exact integers), the loss is still added entry by entry in order.
__attribute__((target("avx2"))) void Walk::avx2(const Entry* e, int64_t m) {
  const __m256d vg0 = _mm256_set1_pd(g0), one = _mm256_set1_pd(1.0), vscale = _mm256_set1_pd(scale), four = _mm256_set1_pd(4.0);
  const __m256i splitPairs = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);  // tagged indices to the low half, keys to the high
  const __m128i indexBits = _mm_set1_epi32(static_cast<int>(~kFgTag));
  __m256d cumAll = _mm256_set1_pd(cum), prevAll = _mm256_set1_pd(prevJ);
  __m256d k1v = _mm256_add_pd(_mm256_set1_pd(k1), _mm256_setr_pd(1, 2, 3, 4));
  double L = loss;
  int64_t i = 0;
  for (; i + 4 <= m; i += 4) {
    const __m256i pairs = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(e + i)), splitPairs);
    const __m128i tagged = _mm256_castsi256_si128(pairs), key = _mm256_extracti128_si256(pairs, 1);
    const __m128i fg = _mm_srli_epi32(tagged, 31);
    __m128i fgSoFar = _mm_add_epi32(fg, _mm_slli_si128(fg, 4));
    fgSoFar = _mm_add_epi32(fgSoFar, _mm_slli_si128(fgSoFar, 8));
    const __m256d cumv = _mm256_add_pd(cumAll, _mm256_cvtepi32_pd(fgSoFar));
    const __m256d jac = _mm256_sub_pd(one, _mm256_div_pd(_mm256_sub_pd(vg0, cumv), _mm256_add_pd(vg0, _mm256_sub_pd(k1v, cumv))));
    const __m256d g = _mm256_sub_pd(jac, _mm256_blend_pd(_mm256_permute4x64_pd(jac, 0x90), prevAll, 1));
    cumAll = _mm256_permute4x64_pd(cumv, 0xFF);
    prevAll = _mm256_permute4x64_pd(jac, 0xFF);
    k1v = _mm256_add_pd(k1v, four);
    const __m128 err = _mm_castsi128_ps(_mm_sub_epi32(_mm_set1_epi32(0x7fffffff), key));
    const __m256d terms = _mm256_mul_pd(_mm256_cvtps_pd(err), g);
    // −g·scale for a foreground entry: the sign of g·scale flipped (rounding is symmetric)
    const __m256d sign = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_cvtepu32_epi64(fg), 63));
    const __m128 out = _mm256_cvtpd_ps(_mm256_xor_pd(_mm256_mul_pd(g, vscale), sign));
    const __m128i v = _mm_and_si128(tagged, indexBits);
    const __m128d t01 = _mm256_castpd256_pd128(terms), t23 = _mm256_extractf128_pd(terms, 1);
    L += _mm_cvtsd_f64(t01);
    L += _mm_cvtsd_f64(_mm_unpackhi_pd(t01, t01));
    L += _mm_cvtsd_f64(t23);
    L += _mm_cvtsd_f64(_mm_unpackhi_pd(t23, t23));
    d[_mm_cvtsi128_si32(v)] = _mm_cvtss_f32(out);
    d[_mm_extract_epi32(v, 1)] = _mm_cvtss_f32(_mm_shuffle_ps(out, out, 1));
    d[_mm_extract_epi32(v, 2)] = _mm_cvtss_f32(_mm_shuffle_ps(out, out, 2));
    d[_mm_extract_epi32(v, 3)] = _mm_cvtss_f32(_mm_shuffle_ps(out, out, 3));
  }
  loss = L, cum = _mm256_cvtsd_f64(cumAll), prevJ = _mm256_cvtsd_f64(prevAll), k1 = _mm256_cvtsd_f64(k1v) - 1;
  (*this)(e + i, m - i);
}
#endif

// Stable insertion sort of e[0..m) by key.
void insertionSort(Entry* e, int64_t m) {
  for (int64_t x = 1; x < m; x++) {
    const Entry t = e[x];
    int64_t j = x;
    for (; j > 0 && e[j - 1].key > t.key; j--) e[j] = e[j - 1];
    e[j] = t;
  }
}

// Stable LSD radix sort of e[0..m) on key − lo (< 2^(2·BITS)) in two passes through tmp (m entries
// of space), the result in e.
template <int BITS>
void lsdSort2(Entry* e, Entry* tmp, int64_t m, uint32_t lo) {
  constexpr int R = 1 << BITS;
  constexpr uint32_t mask = R - 1;
  int32_t h0[R] = {}, h1[R] = {};
  for (int64_t i = 0; i < m; i++) {
    const uint32_t k = e[i].key - lo;
    h0[k & mask]++;
    h1[(k >> BITS) & mask]++;
  }
  for (int32_t d = 0, s0 = 0, s1 = 0; d < R; d++) {
    const int32_t c0 = h0[d], c1 = h1[d];
    h0[d] = s0, h1[d] = s1;
    s0 += c0, s1 += c1;
  }
  for (int64_t i = 0; i < m; i++) tmp[h0[(e[i].key - lo) & mask]++] = e[i];
  for (int64_t i = 0; i < m; i++) e[h1[((tmp[i].key - lo) >> BITS) & mask]++] = tmp[i];
}

// Stable sort of the bucket e[0..m), whose keys lie in [lo, lo + 2^rbits), rbits ≤ kBucketSpanBits.
void sortBucket(Entry* e, Entry* tmp, int64_t m, uint32_t lo, int rbits) {
  if (rbits == 0) return;
  if (m <= kInsertionMax) insertionSort(e, m);
  else if (rbits <= 16) lsdSort2<8>(e, tmp, m, lo);
  else lsdSort2<10>(e, tmp, m, lo);
}

// Adjacent bins of b.binCount (R bins, each 2^shift keys) grouped into buckets: a bucket closes
// before a bin that would take it past kBucketEntries entries or a span of 2^kBucketSpanBits keys
// (a dense bin is a bucket of its own; an empty bucket's start moves on to the next bin). Fills
// b.binBucket, b.bucketBin (first bin), b.bucketEnd (the bin after its last) and b.bucketStart
// (first entry; one more for the end, n); returns the number of buckets.
int64_t groupBins(SortBuffers& b, int64_t R, int shift, int64_t n) {
  const int32_t* count = b.binCount.data();
  b.binBucket.resize(R);
  b.bucketStart.assign(1, 0);
  b.bucketBin.assign(1, 0);
  b.bucketEnd.clear();
  for (int64_t x = 0, inBucket = 0; x < R; x++) {
    if (inBucket == 0) {
      b.bucketBin.back() = static_cast<int32_t>(x);
    } else if (inBucket + count[x] > kBucketEntries || ((x - b.bucketBin.back() + 1) << shift) > (int64_t{1} << kBucketSpanBits)) {
      b.bucketEnd.push_back(static_cast<int32_t>(x));
      b.bucketStart.push_back(0), b.bucketBin.push_back(static_cast<int32_t>(x)), inBucket = 0;
    }
    b.binBucket[x] = static_cast<uint16_t>(b.bucketBin.size() - 1);
    inBucket += count[x];
    b.bucketStart.back() += count[x];
  }
  b.bucketEnd.push_back(static_cast<int32_t>(R));
  const int64_t buckets = static_cast<int64_t>(b.bucketBin.size());
  for (int64_t k = 0, sum = 0; k < buckets; k++) {
    const int32_t c = b.bucketStart[k];
    b.bucketStart[k] = static_cast<int32_t>(sum);
    sum += c;
  }
  b.bucketStart.push_back(static_cast<int32_t>(n));
  return buckets;
}

// Sort the n entries of b.a by key (stable) and walk them: counted in 2^12 bins of the key range,
// moved to buckets of adjacent bins (a → b, groupBins), each bucket sorted while it is in cache
// and walked at once.
void sortAndWalk(SortBuffers& b, int64_t n, uint32_t min, uint32_t max, Walk& walk) {
  Entry* A = b.a.data();
  Entry* B = b.b.data();
  if (n <= kInsertionMax || max == min) {
    if (max > min) insertionSort(A, n);
    walk.run(A, n);
    return;
  }
  const int sig = 32 - __builtin_clz(max - min);
  const int F = std::min(sig, kBinBits), shift = sig - F;
  const int64_t R = int64_t{1} << F;
  b.binCount.assign(R, 0);
  int32_t* count = b.binCount.data();
  for (int64_t i = 0; i < n; i++) count[(A[i].key - min) >> shift]++;
  const int64_t buckets = groupBins(b, R, shift, n);
  b.next.assign(b.bucketStart.begin(), b.bucketStart.end() - 1);
  const uint16_t* bucketOf = b.binBucket.data();
  int32_t* next = b.next.data();
  for (int64_t i = 0; i < n; i++) B[next[bucketOf[(A[i].key - min) >> shift]]++] = A[i];
  for (int64_t k = 0; k < buckets; k++) {
    const int64_t b0 = b.bucketStart[k], m = b.bucketStart[k + 1] - b0;
    if (m == 0) continue;
    const uint32_t lo = min + (static_cast<uint32_t>(b.bucketBin[k]) << shift);
    const uint64_t span = (static_cast<uint64_t>(b.bucketEnd[k] - b.bucketBin[k]) << shift) - 1;  // largest key − lo, at most
    sortBucket(B + b0, A + b0, m, lo, span == 0 ? 0 : 64 - __builtin_clzll(span));
    walk.run(B + b0, m);
  }
}

// loss_c of an absent class (G = 0, classes 'all') or the set's only class (G = e − s), as
// unsortedClassLoss in lovasz_softmax_loss.ts; dP's range is zero on entry.
double unsortedClassLoss(const Inputs& in, int64_t c, int64_t G, const Set& r, double scale) {
  const float* p = in.pT + c * in.V;
  float* d = in.dP + c * in.V;
  if (G == 0) {
    int64_t best = -1;
    double bestP = 0;
    for (int64_t v = r.s; v < r.e; v++) {
      if (p[v] > bestP) best = v, bestP = p[v];
    }
    if (best >= 0) d[best] = static_cast<float>(scale);
    return bestP;
  }
  double loss = 0;
  const float g = static_cast<float>(-scale / static_cast<double>(G));
  for (int64_t v = r.s; v < r.e; v++) {
    if (p[v] < 1) {
      loss += 1 - static_cast<double>(p[v]);
      d[v] = g;
    }
  }
  return loss / static_cast<double>(G);
}

// The candidates of a class: their count and the least and greatest key among them.
struct Candidates {
  int64_t n = 0;
  uint32_t min = 0xffffffffu, max = 0;
};

// Class c's candidates among the pixels r into A, in pixel order: foreground pixels with p < 1
// (err = 1 − p) and background pixels with p > 0 (err = p) that do not sort after the last
// foreground pixel (bits of p ≥ minFgErrBits). Branch-free: every pixel's entry is written at
// A[n], and n advances only for a candidate. Zeroes d over r on the way (the walk writes the
// candidates' derivatives after it).
Candidates scanScalar(const float* p, const uint16_t* lab, uint16_t c, const Set& r, uint32_t minFgErrBits, Entry* A, float* d) {
  Candidates k;
  for (int64_t v = r.s; v < r.e; v++) {
    d[v] = 0;
    const uint32_t bits = bitsOf(p[v]);
    const bool fg = lab[v] == c;
    const uint32_t fgBits = bitsOf(static_cast<float>(1 - static_cast<double>(p[v])));
    const bool keep = fg ? bits < kOneBits : (bits != 0) & (bits >= minFgErrBits);
    const uint32_t key = descendingKey(fg ? fgBits : bits);
    A[k.n] = {static_cast<uint32_t>(v) | (fg ? kFgTag : 0u), key};
    k.n += keep;
    const uint32_t mask = 0u - static_cast<uint32_t>(keep);  // branch-free min/max over candidates
    k.min = std::min(k.min, key | ~mask);
    k.max = std::max(k.max, key & mask);
  }
  return k;
}

#if SEG_X86
// Entry positions of a 4-bit candidate mask's lanes packed to the front, as pairs of 32-bit lanes.
struct CompactTable {
  alignas(32) uint32_t lanes[16][8] = {};
  CompactTable() {
    for (int m = 0; m < 16; m++)
      for (int j = 0, k = 0; j < 4; j++)
        if (m >> j & 1) lanes[m][2 * k] = 2 * j, lanes[m][2 * k + 1] = 2 * j + 1, k++;
  }
};

// scanScalar eight pixels at a time (AVX2), the same entries in the same order; 1 − p in float32
// equals the scalar's float64 difference rounded (double rounding is exact for one subtraction).
// Writes up to kScanSlack entries past the candidates.
__attribute__((target("avx2,popcnt"))) Candidates scanAvx2(const float* p, const uint16_t* lab, uint16_t c, const Set& r,
                                                          uint32_t minFgErrBits, Entry* A, float* d) {
  static const CompactTable table;
  const __m256i ones = _mm256_set1_epi32(-1), oneBits = _mm256_set1_epi32(static_cast<int>(kOneBits));
  const __m256i lowest = _mm256_set1_epi32(static_cast<int>(std::max<uint32_t>(minFgErrBits, 1)));
  const __m256i cls = _mm256_set1_epi32(c), tag = _mm256_set1_epi32(static_cast<int>(kFgTag));
  const __m256 one = _mm256_set1_ps(1.f);
  __m256i vmin = ones, vmax = _mm256_setzero_si256();
  __m256i index = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(r.s)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  Candidates k;
  int64_t v = r.s;
  for (; v + 8 <= r.e; v += 8) {
    const __m256 pv = _mm256_loadu_ps(p + v);
    _mm256_storeu_ps(d + v, _mm256_setzero_ps());
    const __m256i bits = _mm256_castps_si256(pv);
    const __m256i fg = _mm256_cmpeq_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(lab + v))), cls);
    const __m256i belowOne = _mm256_xor_si256(_mm256_cmpeq_epi32(_mm256_max_epu32(bits, oneBits), bits), ones);
    const __m256i fromLowest = _mm256_cmpeq_epi32(_mm256_max_epu32(bits, lowest), bits);
    const __m256i keep = _mm256_blendv_epi8(fromLowest, belowOne, fg);
    const __m256i errBits = _mm256_blendv_epi8(bits, _mm256_castps_si256(_mm256_sub_ps(one, pv)), fg);
    const __m256i key = _mm256_sub_epi32(_mm256_set1_epi32(0x7fffffff), errBits);
    const __m256i tagged = _mm256_or_si256(index, _mm256_and_si256(fg, tag));
    index = _mm256_add_epi32(index, _mm256_set1_epi32(8));
    vmin = _mm256_min_epu32(vmin, _mm256_or_si256(key, _mm256_xor_si256(keep, ones)));
    vmax = _mm256_max_epu32(vmax, _mm256_and_si256(key, keep));
    const uint32_t m = static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(keep)));
    // (tagged, key) pairs of lanes 0-3 and 4-7, each half's candidates packed to its front
    const __m256i lo = _mm256_unpacklo_epi32(tagged, key), hi = _mm256_unpackhi_epi32(tagged, key);
    const __m256i e03 = _mm256_permute2x128_si256(lo, hi, 0x20), e47 = _mm256_permute2x128_si256(lo, hi, 0x31);
    const __m256i lanes03 = _mm256_load_si256(reinterpret_cast<const __m256i*>(table.lanes[m & 15]));
    const __m256i lanes47 = _mm256_load_si256(reinterpret_cast<const __m256i*>(table.lanes[m >> 4]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(A + k.n), _mm256_permutevar8x32_epi32(e03, lanes03));
    k.n += _mm_popcnt_u32(m & 15);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(A + k.n), _mm256_permutevar8x32_epi32(e47, lanes47));
    k.n += _mm_popcnt_u32(m >> 4);
  }
  alignas(32) uint32_t mins[8], maxs[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(mins), vmin);
  _mm256_store_si256(reinterpret_cast<__m256i*>(maxs), vmax);
  const Candidates tail = scanScalar(p, lab, c, {v, r.e}, minFgErrBits, A + k.n, d);
  k.n += tail.n;
  k.min = std::min(tail.min, *std::min_element(mins, mins + 8));
  k.max = std::max(tail.max, *std::max_element(maxs, maxs + 8));
  return k;
}
#endif

Candidates scanCandidates(const float* p, const uint16_t* lab, uint16_t c, const Set& r, uint32_t minFgErrBits, Entry* A, float* d) {
#if SEG_X86
  if (useAvx2()) return scanAvx2(p, lab, c, r, minFgErrBits, A, d);
#endif
  return scanScalar(p, lab, c, r, minFgErrBits, A, d);
}

// loss_c of class c over the set r (classLoss in lovasz_softmax_loss.ts); writes scale · d loss_c / d p_c.
double classLoss(const Inputs& in, int64_t c, int64_t G, double maxFgP, const Set& r, double scale) {
  const int64_t V = in.V;
  float* d = in.dP + c * V;
  if (G == 0 || G == r.e - r.s) {
    std::fill(d + r.s, d + r.e, 0.f);
    return unsortedClassLoss(in, c, G, r, scale);
  }
  const float* p = in.pT + c * V;
  const uint32_t minFgErrBits = bitsOf(static_cast<float>(1 - maxFgP));
  SortBuffers& b = threadBuffers();
  b.reserve(r.e - r.s);
  Candidates k = scanCandidates(p, in.lab, static_cast<uint16_t>(c), r, minFgErrBits, b.a.data(), d);
  Walk walk{static_cast<double>(G), scale};
  walk.d = d;
  sortAndWalk(b, k.n, k.min, k.max, walk);
  return walk.loss;
}

// Threads available to at::parallel_for for n items of grain 1.
int64_t workers(int64_t n) { return std::max<int64_t>(1, std::min<int64_t>(n, at::get_num_threads())); }

// The compacted pixels: pT [C, V] class-major, lab [V], vIndex [V] (pixel of each, when some are ignored).
struct Compacted {
  at::Tensor pT, lab, vIndex, dP;
  int64_t V = 0;
  std::vector<int64_t> validPerImage;
  // per image and class: its pixels, and the class's largest probability on them
  std::vector<double> classPixels, classMaxP;
  bool sawNaN = false;  // a NaN probability of class 0 (a NaN logit makes its whole pixel NaN)
};

// Valid pixels per image (labels checked), then their softmax probabilities (softmaxRow) written
// class-major, in parallel per image.
Compacted compact(const float* logits, const int32_t* y, int64_t N, int64_t HW, int64_t C, int64_t ignore) {
  Compacted k;
  k.validPerImage.assign(N, 0);
  at::parallel_for(0, N, 1, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; n++) {
      int64_t m = 0;
      for (int64_t j = n * HW; j < (n + 1) * HW; j++) {
        const int32_t l = y[j];
        if (l == ignore) continue;
        if (l < 0 || l >= C) throw Error("seg-torch: lovaszSoftmax: label " + std::to_string(l) + " out of range");
        m++;
      }
      k.validPerImage[n] = m;
    }
  });
  std::vector<int64_t> start(N + 1, 0);
  for (int64_t n = 0; n < N; n++) start[n + 1] = start[n] + k.validPerImage[n];
  const int64_t V = k.V = start[N];
  k.pT = at::empty({C * V}, at::kFloat);
  k.dP = at::empty({C * V}, at::kFloat);
  k.lab = at::empty({V}, at::kShort);
  k.vIndex = at::empty({V < N * HW ? V : 0}, at::kInt);
  float* pT = k.pT.data_ptr<float>();
  uint16_t* lab = reinterpret_cast<uint16_t*>(k.lab.data_ptr<int16_t>());
  int32_t* vIndex = V < N * HW ? k.vIndex.data_ptr<int32_t>() : nullptr;
  std::atomic<bool> nan{false};
  k.classPixels.assign(N * C, 0);
  k.classMaxP.assign(N * C, 0);
  at::parallel_for(0, N, 1, [&](int64_t n0, int64_t n1) {
    bool sawNaN = false;
    std::vector<float> q(C);
    // probabilities of the m pixels rows[0..m) into columns [v0, v0 + m) of pT: eight at once where softmax8 runs
    const auto probabilities = [&](const int64_t* rows, int m, int64_t v0) {
      if (m == 8 && softmax8(logits, rows, C, pT + v0, 1, V)) {
        for (int64_t v = v0; v < v0 + 8; v++) sawNaN |= std::isnan(pT[v]);
        return;
      }
      for (int i = 0; i < m; i++) {
        softmaxRow(logits + rows[i] * C, q.data(), C);
        for (int64_t c = 0; c < C; c++) pT[c * V + v0 + i] = q[c];
        sawNaN |= std::isnan(q[0]);
      }
    };
    for (int64_t n = n0; n < n1; n++) {
      double* pixels = &k.classPixels[n * C];
      double* maxP = &k.classMaxP[n * C];
      // probabilities, then each pixel counted for its class
      const auto compacted = [&](const int64_t* rows, int m, int64_t v0) {
        probabilities(rows, m, v0);
        for (int64_t v = v0; v < v0 + m; v++) {
          const uint16_t l = lab[v];
          pixels[l]++;
          maxP[l] = std::max<double>(maxP[l], pT[l * V + v]);
        }
      };
      int64_t rows[8];
      int m = 0;
      int64_t v = start[n];
      for (int64_t j = n * HW; j < (n + 1) * HW; j++) {
        const int32_t l = y[j];
        if (l == ignore) continue;
        lab[v] = static_cast<uint16_t>(l);
        if (vIndex) vIndex[v] = static_cast<int32_t>(j);
        rows[m++] = j;
        v++;
        if (m == 8) compacted(rows, 8, v - 8), m = 0;
      }
      compacted(rows, m, v - m);
    }
    if (sawNaN) nan = true;
  });
  k.sawNaN = nan;
  return k;
}

// The sets a loss averages over (pixelSets in lovasz_softmax_loss.ts): the batch, or each image with a valid pixel.
std::vector<Set> pixelSets(const std::vector<int64_t>& validPerImage, int64_t V, bool perImage) {
  std::vector<Set> sets;
  const int64_t N = static_cast<int64_t>(validPerImage.size());
  if (!perImage) {
    if (V > 0) sets.push_back({0, V, 0, N});
    return sets;
  }
  for (int64_t n = 0, s = 0; n < N; s += validPerImage[n++])
    if (validPerImage[n] > 0) sets.push_back({s, s + validPerImage[n], n, n + 1});
  return sets;
}

// Pixels of each class in set r, and each class's largest probability on its own pixels, from the
// compaction's per-image counts (exact in any order).
void countClasses(const Compacted& k, int64_t C, const Set& r, double* counts, double* maxFgP) {
  for (int64_t n = r.n0; n < r.n1; n++)
    for (int64_t c = 0; c < C; c++) counts[c] += k.classPixels[n * C + c], maxFgP[c] = std::max(maxFgP[c], k.classMaxP[n * C + c]);
}

// The loss over the sets (each (set, class) a task, handed out to the threads largest set first, each
// writing its own range of dP), summed in the reference's order.
double setLosses(const Inputs& in, const Compacted& kc, const std::vector<Set>& sets, bool allClasses) {
  const int64_t S = static_cast<int64_t>(sets.size()), C = in.C;
  std::vector<double> counts(S * C, 0), maxFgP(S * C, 0), scale(S), lossC(S * C, 0);
  std::vector<char> counted(S * C, 0);
  for (int64_t i = 0; i < S; i++) {
    countClasses(kc, C, sets[i], &counts[i * C], &maxFgP[i * C]);
    int64_t k = 0;
    for (int64_t c = 0; c < C; c++) k += counted[i * C + c] = allClasses || counts[i * C + c] > 0;
    scale[i] = 1 / (static_cast<double>(k) * static_cast<double>(S));
  }
  std::vector<int64_t> order(S * C);
  for (int64_t t = 0; t < S * C; t++) order[t] = t;
  const auto size = [&](int64_t t) { return sets[t / C].e - sets[t / C].s; };
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return size(a) > size(b); });
  std::atomic<int64_t> next{0};
  at::parallel_for(0, workers(S * C), 1, [&](int64_t, int64_t) {
    for (int64_t q; (q = next.fetch_add(1)) < S * C;) {
      const int64_t t = order[q], c = t % C;
      const Set& r = sets[t / C];
      if (counted[t])
        lossC[t] = classLoss(in, c, static_cast<int64_t>(counts[t]), maxFgP[t], r, scale[t / C]);
      else
        std::fill(in.dP + c * in.V + r.s, in.dP + c * in.V + r.e, 0.f);
    }
  });
  double loss = 0;
  for (int64_t t = 0; t < S * C; t++)
    if (counted[t]) loss += lossC[t] * scale[t / C];
  return loss;
}

#if SEG_X86
// dot[k] += d[k]·p[k] in float64 for k < m, four at a time.
__attribute__((target("avx2"))) void dotAvx2(const float* d, const float* p, int64_t m, double* dot) {
  int64_t k = 0;
  for (; k + 4 <= m; k += 4)
    _mm256_storeu_pd(dot + k, _mm256_add_pd(_mm256_loadu_pd(dot + k), _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(d + k)), _mm256_cvtps_pd(_mm_loadu_ps(p + k)))));
  for (; k < m; k++) dot[k] += static_cast<double>(d[k]) * static_cast<double>(p[k]);
}

// softmaxBackward's output for eight pixels (columns 0..7 of p and dP, row stride V): the same
// float64 arithmetic per lane; pixel i's C values go to rows[i].
__attribute__((target("avx2"))) void jacobianAvx2(const float* p, const float* dP, int64_t V, int64_t C, const double* dot, float* const rows[8]) {
  const __m256d dotLo = _mm256_loadu_pd(dot), dotHi = _mm256_loadu_pd(dot + 4);
  alignas(32) float lanes[8];
  for (int64_t c = 0; c < C; c++) {
    const __m256 pc = _mm256_loadu_ps(p + c * V), dc = _mm256_loadu_ps(dP + c * V);
    const __m256d lo = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(pc)), _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(dc)), dotLo));
    const __m256d hi = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(pc, 1)), _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(dc, 1)), dotHi));
    _mm256_store_ps(lanes, _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo)));
    for (int i = 0; i < 8; i++) rows[i][c] = lanes[i];
  }
}
#endif

// dz = p ⊙ (dP − Σ_c dP_c p_c), NHWC; Σ in float64 in class order, over blocks of pixels; 0 at ignored pixels.
void softmaxBackward(const Inputs& in, const int32_t* vIndex, const int32_t* y, int64_t ignore, int64_t P, float* out) {
  const int64_t V = in.V, C = in.C;
  const float *pT = in.pT, *dP = in.dP;
  if (vIndex) {
    at::parallel_for(0, P, 1 << 14, [&](int64_t j0, int64_t j1) {
      for (int64_t j = j0; j < j1; j++)
        if (y[j] == ignore) std::fill(out + j * C, out + (j + 1) * C, 0.f);
    });
  }
  const auto outRow = [&](int64_t v) { return out + (vIndex ? static_cast<int64_t>(vIndex[v]) : v) * C; };  // pixel v's dz
  constexpr int64_t kBlock = 256;
  at::parallel_for(0, (V + kBlock - 1) / kBlock, 16, [&](int64_t b0, int64_t b1) {
    double dot[kBlock];
    for (int64_t b = b0; b < b1; b++) {
      const int64_t v0 = b * kBlock, m = std::min(kBlock, V - v0);
      std::fill(dot, dot + m, 0.0);
#if SEG_X86
      if (useAvx2())
        for (int64_t c = 0; c < C; c++) dotAvx2(dP + c * V + v0, pT + c * V + v0, m, dot);
      else
#endif
        for (int64_t c = 0; c < C; c++)
          for (int64_t k = 0; k < m; k++) dot[k] += static_cast<double>(dP[c * V + v0 + k]) * static_cast<double>(pT[c * V + v0 + k]);
      int64_t k = 0;
#if SEG_X86
      if (useAvx2())
        for (float* rows[8]; k + 8 <= m; k += 8) {
          for (int i = 0; i < 8; i++) rows[i] = outRow(v0 + k + i);
          jacobianAvx2(pT + v0 + k, dP + v0 + k, V, C, dot + k, rows);
        }
#endif
      for (; k < m; k++) {
        const int64_t v = v0 + k;
        float* o = outRow(v);
        for (int64_t c = 0; c < C; c++)
          o[c] = static_cast<float>(static_cast<double>(pT[c * V + v]) * (static_cast<double>(dP[c * V + v]) - dot[k]));
      }
    }
  });
}

std::vector<at::Tensor> results(at::Tensor value, at::Tensor dz) {
  return dz.defined() ? std::vector<at::Tensor>{value, dz} : std::vector<at::Tensor>{value};
}

}  // namespace

std::vector<at::Tensor> lovaszSoftmax(const at::Tensor& logits0, const at::Tensor& labels0, int64_t ignore, bool perImage,
                                      bool allClasses, bool gradient) {
  if (logits0.scalar_type() != at::kFloat || labels0.scalar_type() != at::kInt || logits0.dim() != 4 || labels0.dim() != 3)
    throw Error("seg-torch: lovaszSoftmax expects float32 logits [N, H, W, C] and int32 labels [N, H, W]");
  const at::Tensor logits = logits0.contiguous(), labels = labels0.contiguous();
  const int64_t N = logits.size(0), HW = logits.size(1) * logits.size(2), C = logits.size(3);
  if (labels.numel() != N * HW) throw Error("seg-torch: lovaszSoftmax: labels do not match the logits' [N, H, W]");
  if (C > 65535) throw Error("seg-torch: lovaszSoftmax: at most 65535 classes");
  const int32_t* y = labels.data_ptr<int32_t>();
  at::Tensor value = at::empty({}, at::kFloat), dz;
  if (gradient) dz = at::empty(logits.sizes(), at::kFloat);

  const Compacted k = compact(logits.data_ptr<float>(), y, N, HW, C, ignore);
  if (k.V == 0 || k.sawNaN) {
    const float v = k.V == 0 ? 0.f : std::numeric_limits<float>::quiet_NaN();
    value.fill_(v);
    if (gradient) dz.fill_(v);
    return results(value, dz);
  }
  const Inputs in{k.pT.data_ptr<float>(), reinterpret_cast<const uint16_t*>(k.lab.data_ptr<int16_t>()), k.dP.data_ptr<float>(), k.V, C};
  value.fill_(static_cast<float>(setLosses(in, k, pixelSets(k.validPerImage, k.V, perImage), allClasses)));
  if (gradient) softmaxBackward(in, k.vIndex.numel() ? k.vIndex.data_ptr<int32_t>() : nullptr, y, ignore, N * HW, dz.data_ptr<float>());
  return results(value, dz);
}

}  // namespace segtorch
