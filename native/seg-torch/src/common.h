// seg-torch: shared declarations of the N-API glue (addon.cc) and the kernels (conv.cc, fused.cc, ops.cc).
//
// Tensors live in a table of at::Tensor (table.cc) and are named in JavaScript by a positive integer id.
// Every tensor in the table is contiguous in tfjs's logical (row-major, NHWC) order. A kernel input is a
// pair (ref, shape): ref is either an id or a JavaScript typed array, which is wrapped without a copy for
// the duration of the call (results never alias it, see Call::ret).
#pragma once

#include <node_api.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace segtorch {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void check(napi_status status, const char* what);

// ---- tensor table (table.cc) ----
uint32_t store(at::Tensor t);
const at::Tensor& lookup(uint32_t id);
void release(uint32_t id);
int64_t liveTensors();
int64_t liveBytes();

// ---- libtorch's CPU allocator (alloc.cc) ----
struct AllocStats {
  uint64_t hits = 0, misses = 0, released = 0;  // large requests served from the cache / not; blocks freed
  uint64_t cachedBytes = 0, limitBytes = 0;
  uint64_t liveBytes = 0, peakLiveBytes = 0;  // large blocks in tensors now; at most since the last call
};
// Make libtorch allocate through seg's caching allocator (unless SEG_TORCH_CACHE_MB=0); whether it does.
bool installCachingAllocator();
AllocStats allocStats();

// ---- one call's arguments and results ----
class Call {
 public:
  Call(napi_env env, napi_callback_info info);
  napi_env env;
  size_t argc = 0;
  napi_value argv[32];

  napi_value arg(size_t i) const;
  double num(size_t i) const;
  int64_t i64(size_t i) const;
  bool flag(size_t i) const;
  std::string str(size_t i) const;
  std::vector<int64_t> ints(size_t i) const;
  // A tensor input: argv[ref] is an id or a typed array, argv[shape] its shape.
  at::Tensor tensor(size_t ref, size_t shape);
  // A list of tensor inputs: argv[refs] an array of refs, argv[shapes] an array of shapes.
  std::vector<at::Tensor> tensors(size_t refs, size_t shapes);
  // Store a result (made contiguous, and copied if it shares memory with a wrapped JS array); its id.
  napi_value ret(const at::Tensor& t);
  // Several results: an array of ids.
  napi_value ret(const std::vector<at::Tensor>& ts);
  napi_value undefined() const;

 private:
  at::Tensor fromValue(napi_value ref, const std::vector<int64_t>& shape);
  std::vector<int64_t> intsOf(napi_value v) const;
  uint32_t keep(const at::Tensor& t);
  std::vector<const void*> blobs_;
};

// ---- kernels ----
struct ConvGeometry {
  int64_t sh, sw;  // strides
  int64_t pt, pb, pl, pr;  // padding top, bottom, left, right (TensorFlow's, may be asymmetric)
  int64_t dh, dw;  // dilations
  bool depthwise;
};
// x [N,H,W,C] NHWC, w tfjs filter ([KH,KW,Cin,Cout], depthwise [KH,KW,C,M]); results in tfjs layouts.
// With a bias ([Cout]) and act (0 none, 1 relu, 2 relu6): tfjs's FusedConv2D / FusedDepthwiseConv2D.
at::Tensor conv2d(const at::Tensor& x, const at::Tensor& w, const ConvGeometry& g, const at::Tensor* bias = nullptr, int act = 0);
at::Tensor conv2dBackpropInput(const at::Tensor& dy, const at::Tensor& w, at::IntArrayRef inputShape, const ConvGeometry& g);
at::Tensor conv2dBackpropFilter(const at::Tensor& x, const at::Tensor& dy, at::IntArrayRef filterShape, const ConvGeometry& g);

// Batched matrix product with tfjs's BatchMatMul semantics (batch dimensions broadcast).
at::Tensor matmul(const at::Tensor& a, const at::Tensor& b, bool transposeA, bool transposeB);
bool hasFastGemm();

// Softmax over the last dimension.
at::Tensor softmaxLast(const at::Tensor& x);

// e^x for x ≤ 0 (a softmax's shifted logits), within 2 ulp of std::exp above e^-87 and e^-87 below
// (a probability of 1e-38 instead of a smaller one): Cephes' expf, range reduction by rounding
// x·log2(e) with the 1.5·2²³ trick and the exponent written into the bits. No calls and no
// branches, so GCC vectorises a softmax row at the baseline ISA (std::exp is a libm call per
// element: 20 of the 25 ms of a 2×512²×21 softmax).
inline float expNonPositive(float x) {
  x = std::max(x, -87.0f);
  const float n = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;  // round(x·log2 e)
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;  // x − n·ln 2 in two parts
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;  // 2^n, n in [-126, 0]
  float scale;
  std::memcpy(&scale, &bits, 4);
  return p * scale;
}

// One softmax row of D values: softmaxLast's, and the Lovász kernel's, so that both give the same bits.
inline void softmaxRow(const float* x, float* y, int64_t D) {
  float mx = x[0];
  for (int64_t j = 1; j < D; j++) mx = std::max(mx, x[j]);
  float sum = 0.f;
  for (int64_t j = 0; j < D; j++) {
    y[j] = expNonPositive(x[j] - mx);
    sum += y[j];
  }
  const float inv = 1.f / sum;
  for (int64_t j = 0; j < D; j++) y[j] *= inv;
}

// ---- AVX2 paths (avx2.cc; lovasz.cc's candidate scan) ----
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SEG_X86 1
#else
#define SEG_X86 0
#endif
// Whether seg's AVX2 loops run: where the CPU has AVX2, unless SEG_TORCH_AVX2=0 or turned off with
// setAvx2 (tests compare them with the portable loops); setAvx2 returns the previous setting.
bool useAvx2();
bool setAvx2(bool on);
constexpr int64_t kSoftmax8MaxD = 64;
// softmaxRow of eight rows at once, the same bits (row k is x + rows[k]·D; its value c goes to
// y[k·rowStride + c·classStride]), where useAvx2() and D ≤ kSoftmax8MaxD; false (nothing written) elsewhere.
bool softmax8(const float* x, const int64_t* rows, int64_t D, float* y, int64_t rowStride, int64_t classStride);

// act: 0 none, 1 relu, 2 relu6. x [..., C]; returns y, mean, variance (biased).
std::vector<at::Tensor> bnActForward(const at::Tensor& x, const at::Tensor& gamma, const at::Tensor& beta, int act, double eps);
// returns dx, dgamma, dbeta.
std::vector<at::Tensor> bnActBackward(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& gamma, const at::Tensor& beta,
                                      const at::Tensor& mean, const at::Tensor& variance, int act, double eps);

struct OptimizerAttrs {
  bool adam;
  float lr, beta1, beta2, epsilon, bc1, bc2, weightDecay;
};
// returns w', m' (, v' for adam)
std::vector<at::Tensor> optimizerStep(const at::Tensor& w, const at::Tensor& g, const at::Tensor& m, const at::Tensor* v,
                                      const OptimizerAttrs& a);

// SegMovingStats: moving·momentum + batch·rest for the mean and the variance (rest = 1 − momentum
// rounded to float32 by the caller); returns the new moving mean and variance.
std::vector<at::Tensor> movingStats(const at::Tensor& movingMean, const at::Tensor& movingVariance, const at::Tensor& mean,
                                    const at::Tensor& variance, float momentum, float rest);

// SegLovaszSoftmax (lovasz.cc): logits [N,H,W,C] float32, labels [N,H,W] int32; returns the loss (a
// float32 scalar) and, with gradient, d loss / d logits [N,H,W,C].
std::vector<at::Tensor> lovaszSoftmax(const at::Tensor& logits, const at::Tensor& labels, int64_t ignore, bool perImage,
                                      bool allClasses, bool gradient);

}  // namespace segtorch
