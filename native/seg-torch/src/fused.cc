// seg's fused kernels (src/backend/kernels/batchnorm.ts and optimizer.ts define them; these are the
// same formulas as plain C++ loops over ATen-owned memory, parallel over rows with at::parallel_for),
// and a softmax over the last dimension.
//
// Batch norm + activation, training mode, channels innermost ([M, C] with M = N·H·W):
//   forward  3 passes: Σx → mean, Σ(x − mean)² → variance (biased), y = act(x·a + b)
//   backward 2 passes: Σdz, Σdz·(x − mean) → dβ, dγ;  dx = a·dz + k1·(x − mean) + k0
// with a = γ/√(var + ε), b = β − mean·a, dz = dy·act′(z), z = x·a + b (relu: z > 0, relu6: 0 < z ≤ 6).
// Per-channel sums are accumulated in float over blocks of rows and in double across blocks.
//
// The loops are written so that GCC/Clang vectorise them at the baseline ISA (SSE2 on x86-64); they
// are memory-bound, and AVX2 clones measured no faster.
#include "common.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace segtorch {
namespace {

constexpr int64_t kBlock = 64;  // rows summed in float before adding to the double totals

// ---- row kernels (rows [r0, r1) of an [M, C] array) ----

void colSum(const float* x, int64_t r0, int64_t r1, int64_t C, float* f, double* acc) {
  for (int64_t b = r0; b < r1; b += kBlock) {
    std::fill(f, f + C, 0.f);
    const int64_t e = std::min(r1, b + kBlock);
    for (int64_t r = b; r < e; r++) {
      const float* p = x + r * C;
      for (int64_t c = 0; c < C; c++) f[c] += p[c];
    }
    for (int64_t c = 0; c < C; c++) acc[c] += f[c];
  }
}

void colSumSqDev(const float* x, int64_t r0, int64_t r1, int64_t C, const float* mu, float* f, double* acc) {
  for (int64_t b = r0; b < r1; b += kBlock) {
    std::fill(f, f + C, 0.f);
    const int64_t e = std::min(r1, b + kBlock);
    for (int64_t r = b; r < e; r++) {
      const float* p = x + r * C;
      for (int64_t c = 0; c < C; c++) {
        const float d = p[c] - mu[c];
        f[c] += d * d;
      }
    }
    for (int64_t c = 0; c < C; c++) acc[c] += f[c];
  }
}

// The activation: y = act(z).
template <int ACT>
inline float activate(float z) {
  if (ACT == 0) return z;
  if (ACT == 1) return std::max(z, 0.f);
  return std::min(std::max(z, 0.f), 6.f);
}

// dz = dy·act′(z), act′ ∈ {0, 1}: d where the activation passes z, else 0. Written as a bit mask:
// GCC turns a select or a multiplication by (float)(z > 0) into a branch, which neither vectorises
// nor predicts (half the values pass).
inline float keepIf(float d, bool pass) {
  uint32_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  bits &= 0u - static_cast<uint32_t>(pass);
  float r;
  std::memcpy(&r, &bits, sizeof r);
  return r;
}

template <int ACT>
inline float gate(float d, float z) {
  if (ACT == 0) return d;
  if (ACT == 1) return keepIf(d, z > 0.f);
  return keepIf(d, (z > 0.f) & (z <= 6.f));
}

template <int ACT>
inline __attribute__((always_inline)) void bnApplyT(const float* x, float* y, int64_t r0, int64_t r1, int64_t C, const float* a, const float* b) {
  for (int64_t r = r0; r < r1; r++) {
    const float* p = x + r * C;
    float* q = y + r * C;
    for (int64_t c = 0; c < C; c++) q[c] = activate<ACT>(p[c] * a[c] + b[c]);
  }
}

// dz = dy·act′(x·a + b) for one row, into `dz` (a loop of its own, so that it vectorises)
template <int ACT>
inline __attribute__((always_inline)) void gateRow(const float* __restrict dr, const float* __restrict xr, const float* __restrict a,
                                                   const float* __restrict b, float* __restrict dz, int64_t C) {
  for (int64_t c = 0; c < C; c++) dz[c] = gate<ACT>(dr[c], xr[c] * a[c] + b[c]);
}

template <int ACT>
inline __attribute__((always_inline)) void bnBwdSumsT(const float* dy, const float* x, int64_t r0, int64_t r1, int64_t C, const float* a,
                                                      const float* b, const float* mu, float* __restrict f1, float* __restrict f2,
                                                      float* __restrict dz, double* s1, double* s2) {
  for (int64_t blk = r0; blk < r1; blk += kBlock) {
    std::fill(f1, f1 + C, 0.f);
    std::fill(f2, f2 + C, 0.f);
    const int64_t e = std::min(r1, blk + kBlock);
    for (int64_t r = blk; r < e; r++) {
      const float* __restrict xr = x + r * C;
      const float* d = dy + r * C;
      if (ACT != 0) {
        gateRow<ACT>(d, xr, a, b, dz, C);
        d = dz;
      }
      for (int64_t c = 0; c < C; c++) {
        f1[c] += d[c];
        f2[c] += d[c] * (xr[c] - mu[c]);
      }
    }
    for (int64_t c = 0; c < C; c++) {
      s1[c] += f1[c];
      s2[c] += f2[c];
    }
  }
}

template <int ACT>
inline __attribute__((always_inline)) void bnBwdApplyT(const float* dy, const float* x, float* dx, int64_t r0, int64_t r1, int64_t C, const float* a,
                                                       const float* b, const float* mu, const float* k1, const float* k0, float* __restrict dz) {
  for (int64_t r = r0; r < r1; r++) {
    const float* __restrict xr = x + r * C;
    const float* d = dy + r * C;
    float* __restrict q = dx + r * C;
    if (ACT != 0) {
      gateRow<ACT>(d, xr, a, b, dz, C);
      d = dz;
    }
    for (int64_t c = 0; c < C; c++) q[c] = a[c] * d[c] + k1[c] * (xr[c] - mu[c]) + k0[c];
  }
}

// one compiled function per activation, so that each inner loop is branch-free
#define SEG_PER_ACT(name, params, args)  \
  void name##0 params { name##T<0> args; } \
  void name##1 params { name##T<1> args; } \
  void name##2 params { name##T<2> args; }

SEG_PER_ACT(bnApply, (const float* x, float* y, int64_t r0, int64_t r1, int64_t C, const float* a, const float* b), (x, y, r0, r1, C, a, b))
SEG_PER_ACT(bnBwdSums,
            (const float* dy, const float* x, int64_t r0, int64_t r1, int64_t C, const float* a, const float* b, const float* mu, float* f1, float* f2,
             float* dz, double* s1, double* s2),
            (dy, x, r0, r1, C, a, b, mu, f1, f2, dz, s1, s2))
SEG_PER_ACT(bnBwdApply,
            (const float* dy, const float* x, float* dx, int64_t r0, int64_t r1, int64_t C, const float* a, const float* b, const float* mu,
             const float* k1, const float* k0, float* dz),
            (dy, x, dx, r0, r1, C, a, b, mu, k1, k0, dz))

void bnApply(const float* x, float* y, int64_t r0, int64_t r1, int64_t C, const float* a, const float* b, int act) {
  (act == 0 ? bnApply0 : act == 1 ? bnApply1 : bnApply2)(x, y, r0, r1, C, a, b);
}

void bnBwdSums(const float* dy, const float* x, int64_t r0, int64_t r1, int64_t C, const float* a, const float* b, const float* mu, int act, float* f1,
               float* f2, double* s1, double* s2) {
  std::vector<float> dz(act == 0 ? 0 : C);
  (act == 0 ? bnBwdSums0 : act == 1 ? bnBwdSums1 : bnBwdSums2)(dy, x, r0, r1, C, a, b, mu, f1, f2, dz.data(), s1, s2);
}

void bnBwdApply(const float* dy, const float* x, float* dx, int64_t r0, int64_t r1, int64_t C, const float* a, const float* b, const float* mu,
                const float* k1, const float* k0, int act) {
  std::vector<float> dz(act == 0 ? 0 : C);
  (act == 0 ? bnBwdApply0 : act == 1 ? bnBwdApply1 : bnBwdApply2)(dy, x, dx, r0, r1, C, a, b, mu, k1, k0, dz.data());
}

// outputs are fresh tensors: no aliasing (and without __restrict GCC gives up on the alias checks)
void adam(const float* __restrict w, const float* __restrict g, const float* __restrict m, const float* __restrict v, float* __restrict wo,
          float* __restrict mo, float* __restrict vo, int64_t i0, int64_t i1, float lr,
                     float b1, float b2, float c1, float c2, float eps, float bc1, float bc2, float wd) {
  for (int64_t i = i0; i < i1; i++) {
    const float gi = g[i] + wd * w[i];
    const float mi = b1 * m[i] + c1 * gi;
    const float vi = b2 * v[i] + c2 * (gi * gi);
    mo[i] = mi;
    vo[i] = vi;
    wo[i] = w[i] - lr * ((mi / bc1) / (std::sqrt(vi / bc2) + eps));
  }
}

void sgd(const float* w, const float* g, const float* m, float* wo, float* mo, int64_t i0, int64_t i1, float lr, float mu, float wd) {
  for (int64_t i = i0; i < i1; i++) {
    const float mi = mu * m[i] + (g[i] + wd * w[i]);
    mo[i] = mi;
    wo[i] = w[i] - lr * mi;
  }
}

// ---- helpers ----

// Split rows [0, M) into chunks, one partial result per chunk (deterministic for a given thread count).
int64_t chunkCount(int64_t M, int64_t C) {
  int64_t byWork = std::max<int64_t>(1, (M * C) / (1 << 15));
  return std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads() * 4, std::min(byWork, (M + kBlock - 1) / kBlock)));
}

// fn(chunk, r0, r1) for each chunk of rows, in parallel
template <typename Fn>
void parallelChunks(int64_t M, int64_t chunks, const Fn& fn) {
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c++) fn(c, M * c / chunks, M * (c + 1) / chunks);
  });
}

int64_t rowGrain(int64_t C) { return std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(C, 1)); }

void requireFloatContiguous(const at::Tensor& t, const char* what) {
  if (t.scalar_type() != at::kFloat) throw Error(std::string("seg-torch: ") + what + " must be float32");
  if (!t.is_contiguous()) throw Error(std::string("seg-torch: ") + what + " must be contiguous");
}

}  // namespace

std::vector<at::Tensor> bnActForward(const at::Tensor& x, const at::Tensor& gamma, const at::Tensor& beta, int act, double eps) {
  requireFloatContiguous(x, "x");
  const int64_t C = x.size(-1);
  const int64_t M = C == 0 ? 0 : x.numel() / C;
  at::Tensor gc = gamma.contiguous(), bc = beta.contiguous();
  at::Tensor y = at::empty_like(x, at::MemoryFormat::Contiguous);
  at::Tensor mean = at::empty({C}, x.options());
  at::Tensor variance = at::empty({C}, x.options());
  const float* xp = x.data_ptr<float>();
  const int64_t chunks = chunkCount(M, C);
  std::vector<double> part(static_cast<size_t>(chunks * C), 0.0);
  std::vector<float> scratch(static_cast<size_t>(chunks * C));

  parallelChunks(M, chunks, [&](int64_t k, int64_t r0, int64_t r1) { colSum(xp, r0, r1, C, scratch.data() + k * C, part.data() + k * C); });
  std::vector<double> mu(C, 0.0);
  for (int64_t k = 0; k < chunks; k++)
    for (int64_t c = 0; c < C; c++) mu[c] += part[k * C + c];
  for (int64_t c = 0; c < C; c++) mu[c] /= static_cast<double>(M);
  std::vector<float> muf(mu.begin(), mu.end());

  std::fill(part.begin(), part.end(), 0.0);
  parallelChunks(M, chunks, [&](int64_t k, int64_t r0, int64_t r1) { colSumSqDev(xp, r0, r1, C, muf.data(), scratch.data() + k * C, part.data() + k * C); });
  std::vector<double> var(C, 0.0);
  for (int64_t k = 0; k < chunks; k++)
    for (int64_t c = 0; c < C; c++) var[c] += part[k * C + c];

  const float* g = gc.data_ptr<float>();
  const float* bt = bc.data_ptr<float>();
  float* mp = mean.data_ptr<float>();
  float* vp = variance.data_ptr<float>();
  std::vector<float> a(C), sh(C);
  for (int64_t c = 0; c < C; c++) {
    const double v = var[c] / static_cast<double>(M);
    const double inv = 1.0 / std::sqrt(v + eps);
    mp[c] = static_cast<float>(mu[c]);
    vp[c] = static_cast<float>(v);
    a[c] = static_cast<float>(g[c] * inv);
    sh[c] = static_cast<float>(bt[c] - mu[c] * g[c] * inv);
  }
  float* yp = y.data_ptr<float>();
  at::parallel_for(0, M, rowGrain(C), [&](int64_t r0, int64_t r1) { bnApply(xp, yp, r0, r1, C, a.data(), sh.data(), act); });
  return {y, mean, variance};
}

std::vector<at::Tensor> bnActBackward(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& gamma, const at::Tensor& beta,
                                      const at::Tensor& mean, const at::Tensor& variance, int act, double eps) {
  requireFloatContiguous(x, "x");
  requireFloatContiguous(dy, "dy");
  const int64_t C = x.size(-1);
  const int64_t M = C == 0 ? 0 : x.numel() / C;
  if (dy.numel() != x.numel()) throw Error("seg-torch: bnActBackward: dy and x differ in size");
  at::Tensor gc = gamma.contiguous(), bc = beta.contiguous(), mc = mean.contiguous(), vc = variance.contiguous();
  at::Tensor dx = at::empty_like(x, at::MemoryFormat::Contiguous);
  at::Tensor dgamma = at::empty({C}, x.options());
  at::Tensor dbeta = at::empty({C}, x.options());
  const float* xp = x.data_ptr<float>();
  const float* dyp = dy.data_ptr<float>();
  const float* g = gc.data_ptr<float>();
  const float* bt = bc.data_ptr<float>();
  const float* mp = mc.data_ptr<float>();
  const float* vp = vc.data_ptr<float>();

  std::vector<float> s(C), a(C), b(C), mu(C);
  for (int64_t c = 0; c < C; c++) {
    s[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(vp[c]) + eps));
    a[c] = g[c] * s[c];
    b[c] = bt[c] - mp[c] * a[c];
    mu[c] = mp[c];
  }
  const int64_t chunks = chunkCount(M, C);
  std::vector<double> p1(static_cast<size_t>(chunks * C), 0.0), p2(static_cast<size_t>(chunks * C), 0.0);
  std::vector<float> f1(static_cast<size_t>(chunks * C)), f2(static_cast<size_t>(chunks * C));
  parallelChunks(M, chunks, [&](int64_t k, int64_t r0, int64_t r1) {
    bnBwdSums(dyp, xp, r0, r1, C, a.data(), b.data(), mu.data(), act, f1.data() + k * C, f2.data() + k * C, p1.data() + k * C, p2.data() + k * C);
  });
  std::vector<double> s1(C, 0.0), s2(C, 0.0);
  for (int64_t k = 0; k < chunks; k++)
    for (int64_t c = 0; c < C; c++) {
      s1[c] += p1[k * C + c];
      s2[c] += p2[k * C + c];
    }
  float* dgp = dgamma.data_ptr<float>();
  float* dbp = dbeta.data_ptr<float>();
  std::vector<float> k1(C), k0(C);
  for (int64_t c = 0; c < C; c++) {
    const double sx = s2[c] * s[c];  // Σ dz·x̂
    dbp[c] = static_cast<float>(s1[c]);
    dgp[c] = static_cast<float>(sx);
    k1[c] = static_cast<float>(-a[c] * s[c] * sx / static_cast<double>(M));
    k0[c] = static_cast<float>(-a[c] * s1[c] / static_cast<double>(M));
  }
  float* dxp = dx.data_ptr<float>();
  at::parallel_for(0, M, rowGrain(C), [&](int64_t r0, int64_t r1) {
    bnBwdApply(dyp, xp, dxp, r0, r1, C, a.data(), b.data(), mu.data(), k1.data(), k0.data(), act);
  });
  return {dx, dgamma, dbeta};
}

std::vector<at::Tensor> optimizerStep(const at::Tensor& w, const at::Tensor& g, const at::Tensor& m, const at::Tensor* v,
                                      const OptimizerAttrs& o) {
  requireFloatContiguous(w, "w");
  requireFloatContiguous(g, "g");
  requireFloatContiguous(m, "m");
  if (o.adam) {
    if (!v) throw Error("seg-torch: adam needs v");
    requireFloatContiguous(*v, "v");
  }
  const int64_t n = w.numel();
  if (g.numel() != n || m.numel() != n || (v && v->numel() != n)) throw Error("seg-torch: optimizer inputs differ in size");
  at::Tensor wo = at::empty_like(w), mo = at::empty_like(w);
  const float *wp = w.data_ptr<float>(), *gp = g.data_ptr<float>(), *mp = m.data_ptr<float>();
  float *wop = wo.data_ptr<float>(), *mop = mo.data_ptr<float>();
  if (o.adam) {
    at::Tensor vo = at::empty_like(w);
    const float* vp = v->data_ptr<float>();
    float* vop = vo.data_ptr<float>();
    at::parallel_for(0, n, 1 << 15, [&](int64_t i0, int64_t i1) {
      adam(wp, gp, mp, vp, wop, mop, vop, i0, i1, o.lr, o.beta1, o.beta2, 1.f - o.beta1, 1.f - o.beta2, o.epsilon, o.bc1, o.bc2, o.weightDecay);
    });
    return {wo, mo, vo};
  }
  at::parallel_for(0, n, 1 << 15, [&](int64_t i0, int64_t i1) { sgd(wp, gp, mp, wop, mop, i0, i1, o.lr, o.beta1, o.weightDecay); });
  return {wo, mo};
}

std::vector<at::Tensor> movingStats(const at::Tensor& movingMean, const at::Tensor& movingVariance, const at::Tensor& mean,
                                    const at::Tensor& variance, float momentum, float rest) {
  for (const at::Tensor* t : {&movingMean, &movingVariance, &mean, &variance}) requireFloatContiguous(*t, "moving statistics");
  const int64_t n = movingMean.numel();
  if (movingVariance.numel() != n || mean.numel() != n || variance.numel() != n) throw Error("seg-torch: moving statistics differ in size");
  // each product rounded to float32 before the sum (no FMA contraction), as tf.mul then tf.add
  const auto blend = [&](const at::Tensor& moving, const at::Tensor& batch) {
    at::Tensor out = at::empty_like(moving);
    const float *a = moving.data_ptr<float>(), *b = batch.data_ptr<float>();
    float* o = out.data_ptr<float>();
    for (int64_t i = 0; i < n; i++) o[i] = a[i] * momentum + b[i] * rest;
    return out;
  };
  return {blend(movingMean, mean), blend(movingVariance, variance)};
}

at::Tensor softmaxLast(const at::Tensor& x0) {
  at::Tensor x = x0.contiguous();
  const int64_t D = x.dim() == 0 ? 1 : x.size(-1);
  const int64_t rows = D == 0 ? 0 : x.numel() / D;
  at::Tensor y = at::empty_like(x, at::MemoryFormat::Contiguous);
  const float* xp = x.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  at::parallel_for(0, rows, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(D, 1)), [&](int64_t r0, int64_t r1) {
    int64_t r = r0;
    for (int64_t rows[8]; r + 8 <= r1; r += 8) {
      for (int k = 0; k < 8; k++) rows[k] = r + k;
      if (!softmax8(xp, rows, D, yp + r * D, D, 1)) break;
    }
    for (; r < r1; r++) softmaxRow(xp + r * D, yp + r * D, D);
  });
  return y;
}

}  // namespace segtorch
