// The addon's N-API functions. Each takes tensor inputs as (ref, shape) pairs (common.h) and returns
// the id of its result (or an array of ids). All shapes are tfjs's: NHWC for images, [KH,KW,I,O] for
// filters. The JavaScript side (seg's src/backend/native/) computes result shapes and falls back to
// tfjs's own kernels for anything not handled here.
#include "common.h"

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>
#include <torch/csrc/api/include/torch/version.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace segtorch {
namespace {

using Fn = napi_value (*)(Call&);

template <Fn F>
napi_value wrap(napi_env env, napi_callback_info info) {
  try {
    // no autograd: seg computes gradients in tfjs (and oneDNN's kernels are called below the dispatcher)
    c10::InferenceMode guard;
    Call c(env, info);
    return F(c);
  } catch (const c10::Error& e) {
    napi_throw_error(env, nullptr, (std::string("seg-torch: ") + e.what_without_backtrace()).c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, e.what());
  }
  return nullptr;
}

ConvGeometry geometry(const Call& c, size_t i) {
  auto v = c.ints(i);
  if (v.size() != 9) throw Error("seg-torch: conv geometry needs 9 numbers");
  return {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8] != 0};
}

at::ScalarType dtypeOf(int64_t code) {
  switch (code) {
    case 0: return at::kFloat;
    case 1: return at::kInt;
    case 2: return at::kBool;
    default: throw Error("seg-torch: unknown dtype code");
  }
}

// ---- convolutions ----
napi_value conv2dFn(Call& c) { return c.ret(conv2d(c.tensor(0, 1), c.tensor(2, 3), geometry(c, 4))); }
// (x, xShape, w, wShape, bias | null, biasShape | null, geometry, act)
napi_value fusedConv2dFn(Call& c) {
  napi_valuetype t;
  check(napi_typeof(c.env, c.arg(4), &t), "typeof");
  at::Tensor bias;
  if (t != napi_null && t != napi_undefined) bias = c.tensor(4, 5);
  return c.ret(conv2d(c.tensor(0, 1), c.tensor(2, 3), geometry(c, 6), bias.defined() ? &bias : nullptr, static_cast<int>(c.i64(7))));
}
napi_value conv2dBackpropInputFn(Call& c) {
  auto shape = c.ints(4);
  if (shape.size() != 4) throw Error("seg-torch: inputShape must have 4 dimensions");
  return c.ret(conv2dBackpropInput(c.tensor(0, 1), c.tensor(2, 3), shape, geometry(c, 5)));
}
napi_value conv2dBackpropFilterFn(Call& c) {
  auto shape = c.ints(4);
  if (shape.size() != 4) throw Error("seg-torch: filterShape must have 4 dimensions");
  return c.ret(conv2dBackpropFilter(c.tensor(0, 1), c.tensor(2, 3), shape, geometry(c, 5)));
}

// ---- fused kernels ----
napi_value bnForwardFn(Call& c) {
  return c.ret(bnActForward(c.tensor(0, 1), c.tensor(2, 3), c.tensor(4, 5), static_cast<int>(c.i64(6)), c.num(7)));
}
napi_value bnBackwardFn(Call& c) {
  return c.ret(bnActBackward(c.tensor(0, 1), c.tensor(2, 3), c.tensor(4, 5), c.tensor(6, 7), c.tensor(8, 9), c.tensor(10, 11),
                             static_cast<int>(c.i64(12)), c.num(13)));
}
napi_value optimizerFn(Call& c) {
  at::Tensor w = c.tensor(0, 1), g = c.tensor(2, 3), m = c.tensor(4, 5);
  napi_valuetype t;
  check(napi_typeof(c.env, c.arg(6), &t), "typeof");
  at::Tensor v;
  if (t != napi_null && t != napi_undefined) v = c.tensor(6, 7);
  napi_value attrs = c.arg(8);
  double a[8];
  for (uint32_t i = 0; i < 8; i++) {
    napi_value e;
    check(napi_get_element(c.env, attrs, i, &e), "attr");
    check(napi_get_value_double(c.env, e, &a[i]), "attr value");
  }
  OptimizerAttrs o{a[0] != 0, static_cast<float>(a[1]), static_cast<float>(a[2]), static_cast<float>(a[3]), static_cast<float>(a[4]),
                   static_cast<float>(a[5]), static_cast<float>(a[6]), static_cast<float>(a[7])};
  return c.ret(optimizerStep(w, g, m, v.defined() ? &v : nullptr, o));
}

napi_value movingStatsFn(Call& c) {
  return c.ret(movingStats(c.tensor(0, 1), c.tensor(2, 3), c.tensor(4, 5), c.tensor(6, 7), static_cast<float>(c.num(8)), static_cast<float>(c.num(9))));
}

napi_value lovaszSoftmaxFn(Call& c) {
  return c.ret(lovaszSoftmax(c.tensor(0, 1), c.tensor(2, 3), c.i64(4), c.flag(5), c.flag(6), c.flag(7)));
}

// ---- element-wise ----
enum Binary { ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM, SQDIFF, GREATER, GREATER_EQUAL, LESS, LESS_EQUAL, EQUAL, NOT_EQUAL, LOGICAL_AND, LOGICAL_OR, POW };

napi_value binaryFn(Call& c) {
  const int64_t op = c.i64(0);
  at::Tensor a = c.tensor(1, 2), b = c.tensor(3, 4);
  switch (op) {
    case ADD: return c.ret(at::add(a, b));
    case SUB: return c.ret(at::sub(a, b));
    case MUL: return c.ret(at::mul(a, b));
    case DIV: return c.ret(at::div(a, b));
    case MAXIMUM: return c.ret(at::maximum(a, b));
    case MINIMUM: return c.ret(at::minimum(a, b));
    case SQDIFF: {
      at::Tensor d = at::sub(a, b);
      return c.ret(d.mul_(d));
    }
    case GREATER: return c.ret(at::gt(a, b));
    case GREATER_EQUAL: return c.ret(at::ge(a, b));
    case LESS: return c.ret(at::lt(a, b));
    case LESS_EQUAL: return c.ret(at::le(a, b));
    case EQUAL: return c.ret(at::eq(a, b));
    case NOT_EQUAL: return c.ret(at::ne(a, b));
    case LOGICAL_AND: return c.ret(at::logical_and(a, b));
    case LOGICAL_OR: return c.ret(at::logical_or(a, b));
    case POW: return c.ret(at::pow(a, b));
    default: throw Error("seg-torch: unknown binary op");
  }
}

enum Unary { RELU, RELU6, SQRT, RSQRT, SQUARE, NEG, EXP, LOG, ABS, SIGMOID, TANH, STEP, RECIPROCAL, LOG1P, FLOOR, CEIL, ROUND, SIGN, LOGICAL_NOT };

napi_value unaryFn(Call& c) {
  const int64_t op = c.i64(0);
  at::Tensor x = c.tensor(1, 2);
  switch (op) {
    case RELU: return c.ret(at::relu(x));
    case RELU6: return c.ret(at::clamp(x, 0, 6));
    case SQRT: return c.ret(at::sqrt(x));
    case RSQRT: return c.ret(at::rsqrt(x));
    case SQUARE: return c.ret(at::mul(x, x));
    case NEG: return c.ret(at::neg(x));
    case EXP: return c.ret(at::exp(x));
    case LOG: return c.ret(at::log(x));
    case ABS: return c.ret(at::abs(x));
    case SIGMOID: return c.ret(at::sigmoid(x));
    case TANH: return c.ret(at::tanh(x));
    case STEP: {  // x > 0 ? 1 : alpha, NaN stays NaN (tfjs's Step)
      const double alpha = c.num(3);
      at::Tensor y = at::where(at::gt(x, 0), at::ones({}, x.options()), at::full({}, alpha, x.options()));
      return c.ret(at::where(at::isnan(x), x, y));
    }
    case RECIPROCAL: return c.ret(at::reciprocal(x));
    case LOG1P: return c.ret(at::log1p(x));
    case FLOOR: return c.ret(at::floor(x));
    case CEIL: return c.ret(at::ceil(x));
    case ROUND: return c.ret(at::round(x));  // half to even, as tfjs
    case SIGN: return c.ret(at::sign(x));
    case LOGICAL_NOT: return c.ret(at::logical_not(x));
    default: throw Error("seg-torch: unknown unary op");
  }
}

napi_value castFn(Call& c) { return c.ret(c.tensor(0, 1).to(dtypeOf(c.i64(2)))); }

// ---- reductions ----
enum Reduce { SUM, MEAN, MAX, MIN, PROD, ARGMAX, ARGMIN, ANY, ALL };

napi_value reduceFn(Call& c) {
  const int64_t op = c.i64(0);
  at::Tensor x = c.tensor(1, 2);
  auto axes = c.ints(3);
  const bool keep = c.flag(4);
  switch (op) {
    case SUM: return c.ret(at::sum(x, axes, keep));
    case MEAN: return c.ret(at::mean(x, axes, keep));
    case MAX: return c.ret(at::amax(x, axes, keep));
    case MIN: return c.ret(at::amin(x, axes, keep));
    case PROD: {
      at::Tensor y = x;
      std::vector<int64_t> sorted(axes);
      std::sort(sorted.rbegin(), sorted.rend());
      for (int64_t a : sorted) y = at::prod(y, a, keep);
      return c.ret(y);
    }
    case ARGMAX:
    case ARGMIN: {
      if (axes.size() != 1) throw Error("seg-torch: argmax/argmin over one axis only");
      at::Tensor i = op == ARGMAX ? at::argmax(x, axes[0], false) : at::argmin(x, axes[0], false);
      return c.ret(i.to(at::kInt));
    }
    case ANY:
    case ALL: {
      at::Tensor y = x;
      std::vector<int64_t> sorted(axes);
      std::sort(sorted.rbegin(), sorted.rend());
      for (int64_t a : sorted) y = op == ANY ? at::any(y, a, keep) : at::all(y, a, keep);
      return c.ret(y);
    }
    default: throw Error("seg-torch: unknown reduction");
  }
}

napi_value softmaxFn(Call& c) {
  at::Tensor x = c.tensor(0, 1);
  const int64_t dim = c.i64(2);
  if (x.scalar_type() == at::kFloat && (dim == -1 || dim == x.dim() - 1)) return c.ret(softmaxLast(x));
  return c.ret(at::softmax(x, dim));
}

// ---- data movement ----
napi_value concatFn(Call& c) { return c.ret(at::cat(c.tensors(0, 1), c.i64(2))); }

napi_value splitFn(Call& c) {
  at::Tensor x = c.tensor(0, 1);
  auto sizes = c.ints(2);
  const int64_t axis = c.i64(3);
  std::vector<at::Tensor> out;
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(x.narrow(axis, start, s));
    start += s;
  }
  return c.ret(out);
}

napi_value sliceFn(Call& c) {
  at::Tensor x = c.tensor(0, 1);
  auto begin = c.ints(2), size = c.ints(3);
  if (begin.size() != static_cast<size_t>(x.dim()) || size.size() != begin.size()) throw Error("seg-torch: slice needs begin and size per dimension");
  for (int64_t d = 0; d < x.dim(); d++) x = x.narrow(d, begin[d], size[d]);
  return c.ret(x);
}

napi_value transposeFn(Call& c) { return c.ret(c.tensor(0, 1).permute(c.ints(2))); }

napi_value padFn(Call& c) {
  at::Tensor x = c.tensor(0, 1);
  auto p = c.ints(2);  // [before0, after0, before1, after1, ...] in tfjs's dimension order
  std::vector<int64_t> aten;
  for (int64_t d = x.dim() - 1; d >= 0; d--) {
    aten.push_back(p[2 * d]);
    aten.push_back(p[2 * d + 1]);
  }
  return c.ret(at::constant_pad_nd(x, aten, c.num(3)));
}

napi_value tileFn(Call& c) { return c.ret(c.tensor(0, 1).repeat(c.ints(2))); }

napi_value resizeFn(Call& c) {
  at::Tensor x = c.tensor(0, 1).permute({0, 3, 1, 2});
  at::Tensor y = at::upsample_bilinear2d(x, {c.i64(2), c.i64(3)}, c.flag(4));
  return c.ret(y.permute({0, 2, 3, 1}));
}

napi_value resizeGradFn(Call& c) {
  at::Tensor dy = c.tensor(0, 1);
  auto in = c.ints(2);  // NHWC image shape
  if (in.size() != 4) throw Error("seg-torch: image shape must have 4 dimensions");
  at::Tensor dx = at::upsample_bilinear2d_backward(dy.permute({0, 3, 1, 2}), {dy.size(1), dy.size(2)}, {in[0], in[3], in[1], in[2]}, c.flag(3));
  return c.ret(dx.permute({0, 2, 3, 1}));
}

napi_value matmulFn(Call& c) { return c.ret(matmul(c.tensor(0, 1), c.tensor(2, 3), c.flag(4), c.flag(5))); }

napi_value addNFn(Call& c) {
  auto ts = c.tensors(0, 1);
  if (ts.empty()) throw Error("seg-torch: addN of nothing");
  at::Tensor s = ts[0].clone();
  for (size_t i = 1; i < ts.size(); i++) s.add_(ts[i]);
  return c.ret(s);
}

// ---- table ----
napi_value readFn(Call& c) {
  uint32_t id = static_cast<uint32_t>(c.i64(0));
  const at::Tensor& t = lookup(id);
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value buffer;
  size_t offset;
  check(napi_get_typedarray_info(c.env, c.arg(1), &type, &length, &data, &buffer, &offset), "destination typed array");
  const size_t elem = type == napi_float32_array || type == napi_int32_array ? 4 : type == napi_uint8_array ? 1 : 0;
  if (elem == 0 || static_cast<int64_t>(length) != t.numel() || static_cast<int64_t>(elem) != t.element_size())
    throw Error("seg-torch: read: destination does not match the tensor's size or dtype");
  if (length) std::memcpy(data, t.data_ptr(), length * elem);
  return c.undefined();
}

napi_value releaseFn(Call& c) {
  release(static_cast<uint32_t>(c.i64(0)));
  return c.undefined();
}

napi_value statsFn(Call& c) {
  napi_value arr, a, b;
  check(napi_create_array_with_length(c.env, 2, &arr), "array");
  check(napi_create_int64(c.env, liveTensors(), &a), "int");
  check(napi_create_int64(c.env, liveBytes(), &b), "int");
  check(napi_set_element(c.env, arr, 0, a), "set");
  check(napi_set_element(c.env, arr, 1, b), "set");
  return arr;
}

napi_value setNumThreadsFn(Call& c) {
  at::set_num_threads(static_cast<int>(c.i64(0)));
  return c.undefined();
}

napi_value numThreadsFn(Call& c) {
  napi_value v;
  check(napi_create_int32(c.env, at::get_num_threads(), &v), "int");
  return v;
}

// How many threads seg's own at::parallel_for loops run on: ATen's parallel_for is inline, so it is
// parallel only where the addon itself is compiled with OpenMP (binding.gyp's -fopenmp).
napi_value parallelThreadsFn(Call& c) {
  std::vector<char> seen(static_cast<size_t>(at::get_num_threads()), 0);
  at::parallel_for(0, at::get_num_threads(), 1, [&](int64_t, int64_t) { seen[at::get_thread_num()] = 1; });
  napi_value v;
  check(napi_create_int32(c.env, static_cast<int32_t>(std::count(seen.begin(), seen.end(), 1)), &v), "int");
  return v;
}

napi_value allocStatsFn(Call& c) {
  const AllocStats s = allocStats();
  const double v[] = {double(s.hits), double(s.misses), double(s.released), double(s.cachedBytes), double(s.limitBytes), double(s.liveBytes), double(s.peakLiveBytes)};
  napi_value arr;
  check(napi_create_array_with_length(c.env, 7, &arr), "array");
  for (uint32_t i = 0; i < 7; i++) {
    napi_value x;
    check(napi_create_double(c.env, v[i], &x), "number");
    check(napi_set_element(c.env, arr, i, x), "set");
  }
  return arr;
}

// avx2() whether seg's AVX2 loops run; avx2(on) turns them on (where the CPU has AVX2) or off and returns the previous setting.
napi_value avx2Fn(Call& c) {
  napi_value v;
  check(napi_get_boolean(c.env, c.argc > 0 ? setAvx2(c.flag(0)) : useAvx2(), &v), "boolean");
  return v;
}

napi_value configFn(Call& c) {
  std::string s = "libtorch " + std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                  std::to_string(TORCH_VERSION_PATCH) + (at::hasMKLDNN() ? ", oneDNN" : "") + (at::hasMKL() ? ", MKL" : "") + (hasFastGemm() ? ", dnnl_sgemm" : "") +
                  (useAvx2() ? ", AVX2" : "");
  napi_value v;
  check(napi_create_string_utf8(c.env, s.c_str(), s.size(), &v), "string");
  return v;
}

}  // namespace
}  // namespace segtorch

namespace {
struct Export {
  const char* name;
  napi_callback fn;
};
}  // namespace

// glibc's malloc gives every large block (> 128 KiB, adaptively more) its own mmap, and returns
// the top of the heap to the system as soon as 128 KiB are free there; a training step allocates and
// frees hundreds of MB-sized tensors, so each of them is page-faulted (and zeroed by the kernel)
// afresh. Measured on the 2-core VM: a depthwise convolution's backward 8–10 ms instead of 0.3 ms.
// Keep freed memory in the heap instead (SEG_TORCH_MALLOC=0 leaves malloc as it is). Blocks above
// glibc's largest mmap threshold (32 MiB) are kept by the caching allocator (alloc.cc).
static bool tuneMalloc() {
  const char* env = std::getenv("SEG_TORCH_MALLOC");
  if (env && std::string(env) == "0") return false;
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // the largest glibc accepts; also stops its adaptive threshold
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
  return true;
#else
  return false;
#endif
}

NAPI_MODULE_INIT() {
  using namespace segtorch;
  tuneMalloc();
  installCachingAllocator();
  const Export fns[] = {
      {"conv2d", wrap<conv2dFn>},
      {"fusedConv2d", wrap<fusedConv2dFn>},
      {"conv2dBackpropInput", wrap<conv2dBackpropInputFn>},
      {"conv2dBackpropFilter", wrap<conv2dBackpropFilterFn>},
      {"bnForward", wrap<bnForwardFn>},
      {"bnBackward", wrap<bnBackwardFn>},
      {"optimizerStep", wrap<optimizerFn>},
      {"movingStats", wrap<movingStatsFn>},
      {"lovaszSoftmax", wrap<lovaszSoftmaxFn>},
      {"binary", wrap<binaryFn>},
      {"unary", wrap<unaryFn>},
      {"cast", wrap<castFn>},
      {"reduce", wrap<reduceFn>},
      {"softmax", wrap<softmaxFn>},
      {"concat", wrap<concatFn>},
      {"split", wrap<splitFn>},
      {"slice", wrap<sliceFn>},
      {"transpose", wrap<transposeFn>},
      {"pad", wrap<padFn>},
      {"tile", wrap<tileFn>},
      {"resizeBilinear", wrap<resizeFn>},
      {"resizeBilinearGrad", wrap<resizeGradFn>},
      {"matmul", wrap<matmulFn>},
      {"addN", wrap<addNFn>},
      {"read", wrap<readFn>},
      {"release", wrap<releaseFn>},
      {"stats", wrap<statsFn>},
      {"avx2", wrap<avx2Fn>},
      {"setNumThreads", wrap<setNumThreadsFn>},
      {"numThreads", wrap<numThreadsFn>},
      {"parallelThreads", wrap<parallelThreadsFn>},
      {"config", wrap<configFn>},
      {"allocStats", wrap<allocStatsFn>},
  };
  for (const Export& e : fns) {
    napi_value f;
    if (napi_create_function(env, e.name, NAPI_AUTO_LENGTH, e.fn, nullptr, &f) != napi_ok) return nullptr;
    if (napi_set_named_property(env, exports, e.name, f) != napi_ok) return nullptr;
  }
  return exports;
}
