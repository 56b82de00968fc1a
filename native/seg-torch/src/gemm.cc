// Matrix products. ATen's CPU matmul goes to the system BLAS, which on Debian is the reference
// implementation unless another one is installed (≈ 1–2 GFLOP/s); oneDNN, which libtorch links,
// exports a row-major sgemm (dnnl_sgemm) that runs at the speed of its convolutions. It is looked up
// at run time in the oneDNN library libtorch loaded (Debian: libdnnl.so.2); without it at::matmul.
#include "common.h"

#include <dlfcn.h>

namespace segtorch {
namespace {

using SgemmFn = int (*)(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                        int64_t ldb, float beta, float* C, int64_t ldc);

SgemmFn findSgemm() {
  const char* names[] = {"libdnnl.so.2", "libdnnl.so.3", "libdnnl.so", "libtorch_cpu.so"};
  for (const char* n : names) {
    void* h = dlopen(n, RTLD_LAZY | RTLD_NOLOAD);
    if (!h) continue;
    void* f = dlsym(h, "dnnl_sgemm");
    if (f) return reinterpret_cast<SgemmFn>(f);
  }
  return nullptr;
}

SgemmFn sgemm() {
  static const SgemmFn f = findSgemm();
  return f;
}

}  // namespace

bool hasFastGemm() { return sgemm() != nullptr; }

at::Tensor matmul(const at::Tensor& a0, const at::Tensor& b0, bool transposeA, bool transposeB) {
  SgemmFn f = sgemm();
  if (!f || a0.scalar_type() != at::kFloat || b0.scalar_type() != at::kFloat || a0.dim() < 2 || b0.dim() < 2) {
    at::Tensor a = transposeA ? a0.transpose(-1, -2) : a0;
    at::Tensor b = transposeB ? b0.transpose(-1, -2) : b0;
    return at::matmul(a, b);
  }
  // a: [..., M, K] (or [..., K, M] transposed), b: [..., K, N] (or [..., N, K]); batch dims broadcast
  const int64_t ra = a0.dim(), rb = b0.dim();
  const int64_t M = transposeA ? a0.size(ra - 1) : a0.size(ra - 2);
  const int64_t K = transposeA ? a0.size(ra - 2) : a0.size(ra - 1);
  const int64_t Kb = transposeB ? b0.size(rb - 1) : b0.size(rb - 2);
  const int64_t N = transposeB ? b0.size(rb - 2) : b0.size(rb - 1);
  if (K != Kb) throw Error("seg-torch: matmul: inner dimensions differ");
  std::vector<int64_t> batch = at::infer_size(a0.sizes().slice(0, ra - 2), b0.sizes().slice(0, rb - 2));
  int64_t B = 1;
  for (int64_t d : batch) B *= d;
  auto expandTo = [&](const at::Tensor& t, int64_t r0, int64_t r1) {
    std::vector<int64_t> shape(batch);
    shape.push_back(r0);
    shape.push_back(r1);
    return t.expand(shape).reshape({B, r0, r1}).contiguous();
  };
  at::Tensor a = expandTo(a0, a0.size(ra - 2), a0.size(ra - 1));
  at::Tensor b = expandTo(b0, b0.size(rb - 2), b0.size(rb - 1));
  std::vector<int64_t> outShape(batch);
  outShape.push_back(M);
  outShape.push_back(N);
  at::Tensor c = at::empty({B, M, N}, a.options());
  const float* ap = a.data_ptr<float>();
  const float* bp = b.data_ptr<float>();
  float* cp = c.data_ptr<float>();
  const int64_t lda = a.size(2), ldb = b.size(2);
  for (int64_t i = 0; i < B; i++) {
    int st = f(transposeA ? 'T' : 'N', transposeB ? 'T' : 'N', M, N, K, 1.f, ap + i * M * K, lda, bp + i * K * N, ldb, 0.f, cp + i * M * N, N);
    if (st != 0) throw Error("seg-torch: dnnl_sgemm failed with status " + std::to_string(st));
  }
  return c.view(outShape);
}

}  // namespace segtorch
