// Convolutions on ATen, NHWC in and out: an NHWC tensor viewed as NCHW (permute) has channels_last
// strides, so oneDNN runs channels_last without a layout copy. TensorFlow's 'same' padding can be
// asymmetric (stride 2 on an even size pads 0 above and 1 below); ATen pads symmetrically, so an
// asymmetric case pads the input explicitly (and the input gradient is cropped back).
//
// oneDNN is called directly (at::mkldnn_convolution and its backward dispatch stub) rather than
// through at::convolution, whose heuristics send 1×1 convolutions with a small batch on one thread
// to im2col + BLAS GEMM; with Debian's reference BLAS that is ≈ 20× slower than oneDNN. Builds of
// libtorch without oneDNN use at::convolution.
#include "common.h"

#include <ATen/native/ConvUtils.h>

namespace segtorch {
namespace {

at::Tensor toNCHW(const at::Tensor& nhwc) { return nhwc.permute({0, 3, 1, 2}); }
at::Tensor toNHWC(const at::Tensor& nchw) { return nchw.permute({0, 2, 3, 1}); }

// tfjs filter → ATen weight: dense [KH,KW,I,O] → [O,I,KH,KW]; depthwise [KH,KW,C,M] → [C·M,1,KH,KW].
// Made contiguous (weights are small): ATen picks slow depthwise paths for strided weights.
at::Tensor torchWeight(const at::Tensor& w, bool depthwise) {
  if (!depthwise) return w.permute({3, 2, 0, 1}).contiguous();
  auto s = w.sizes();
  return w.reshape({s[0], s[1], s[2] * s[3]}).permute({2, 0, 1}).unsqueeze(1).contiguous();
}

std::vector<int64_t> torchWeightShape(at::IntArrayRef tf, bool depthwise) {
  if (!depthwise) return {tf[3], tf[2], tf[0], tf[1]};
  return {tf[2] * tf[3], 1, tf[0], tf[1]};
}

bool symmetric(const ConvGeometry& g) { return g.pt == g.pb && g.pl == g.pr; }

// The symmetric padding ATen applies, and the explicit part (top, bottom, left, right) added before.
struct Padding {
  std::vector<int64_t> aten;
  int64_t t, b, l, r;
  bool explicitPad() const { return t || b || l || r; }
};

Padding splitPadding(const ConvGeometry& g) {
  if (symmetric(g)) return {{g.pt, g.pl}, 0, 0, 0, 0};
  int64_t sh = std::min(g.pt, g.pb), sw = std::min(g.pl, g.pr);
  return {{sh, sw}, g.pt - sh, g.pb - sh, g.pl - sw, g.pr - sw};
}

at::Tensor padInput(const at::Tensor& x4, const Padding& p) {
  if (!p.explicitPad()) return x4;
  return at::constant_pad_nd(x4, {p.l, p.r, p.t, p.b}, 0).contiguous(at::MemoryFormat::ChannelsLast);
}

bool useOneDNN() {
  static const bool yes = at::hasMKLDNN() && at::native::mkldnn_convolution_backward_stub::DEFAULT != nullptr;
  return yes;
}

// input, grad input, grad weight of one convolution (NCHW views); mask: which gradients
std::tuple<at::Tensor, at::Tensor, at::Tensor> backward(const at::Tensor& input, const at::Tensor& dy, const at::Tensor& weight, const Padding& p,
                                                        const ConvGeometry& g, int64_t groups, std::array<bool, 3> mask) {
  if (useOneDNN()) {
    const int64_t stride[2] = {g.sh, g.sw}, dilation[2] = {g.dh, g.dw};
    // the stub's registered CPU function (DispatchStub's dispatcher itself is not exported)
    return at::native::mkldnn_convolution_backward_stub::DEFAULT(input, dy, weight, at::IntArrayRef(p.aten), at::IntArrayRef(stride, 2),
                                                                 at::IntArrayRef(dilation, 2), groups, mask);
  }
  return at::convolution_backward(dy, input, weight, c10::nullopt, {g.sh, g.sw}, p.aten, {g.dh, g.dw}, false, {0, 0}, groups, mask);
}

}  // namespace

at::Tensor conv2d(const at::Tensor& x, const at::Tensor& w, const ConvGeometry& g, const at::Tensor* bias, int act) {
  const Padding p = splitPadding(g);
  at::Tensor x4 = padInput(toNCHW(x), p);
  int64_t groups = g.depthwise ? x.size(3) : 1;
  at::Tensor wt = torchWeight(w, g.depthwise);
  c10::optional<at::Tensor> b;
  if (bias) b = bias->reshape({-1}).contiguous();
  at::Tensor y = useOneDNN() ? at::mkldnn_convolution(x4, wt, b, p.aten, {g.sh, g.sw}, {g.dh, g.dw}, groups)
                             : at::convolution(x4, wt, b, {g.sh, g.sw}, p.aten, {g.dh, g.dw}, false, {0, 0}, groups);
  if (act == 1) y.clamp_min_(0);
  if (act == 2) y.clamp_(0, 6);
  return toNHWC(y);
}

at::Tensor conv2dBackpropInput(const at::Tensor& dy, const at::Tensor& w, at::IntArrayRef inputShape, const ConvGeometry& g) {
  const Padding p = splitPadding(g);
  const int64_t N = inputShape[0], H = inputShape[1], W = inputShape[2], C = inputShape[3];
  const int64_t HP = H + p.t + p.b, WP = W + p.l + p.r;
  // convolution_backward reads only the sizes of the input for the input gradient
  at::Tensor placeholder = at::empty({N, C, HP, WP}, dy.options().memory_format(at::MemoryFormat::ChannelsLast));
  int64_t groups = g.depthwise ? C : 1;
  auto r = backward(placeholder, toNCHW(dy), torchWeight(w, g.depthwise), p, g, groups, {true, false, false});
  at::Tensor dx = std::get<0>(r);
  if (p.explicitPad()) dx = dx.narrow(2, p.t, H).narrow(3, p.l, W);
  return toNHWC(dx);
}

at::Tensor conv2dBackpropFilter(const at::Tensor& x, const at::Tensor& dy, at::IntArrayRef filterShape, const ConvGeometry& g) {
  const Padding p = splitPadding(g);
  at::Tensor x4 = padInput(toNCHW(x), p);
  int64_t groups = g.depthwise ? x.size(3) : 1;
  // convolution_backward reads only the sizes of the weight for the weight gradient
  at::Tensor placeholder = at::empty(torchWeightShape(filterShape, g.depthwise), x.options());
  auto r = backward(x4, toNCHW(dy), placeholder, p, g, groups, {false, true, false});
  at::Tensor dw = std::get<1>(r);
  if (!g.depthwise) return dw.permute({2, 3, 1, 0});  // [O,I,KH,KW] → [KH,KW,I,O]
  return dw.squeeze(1).permute({1, 2, 0}).reshape(filterShape);  // [C·M,KH,KW] → [KH,KW,C,M]
}

}  // namespace segtorch
