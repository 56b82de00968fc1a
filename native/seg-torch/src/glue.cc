// The tensor table and the argument/result helpers of the N-API functions.
#include "common.h"

#include <cstring>

namespace segtorch {

void check(napi_status status, const char* what) {
  if (status != napi_ok) throw Error(std::string("seg-torch: N-API call failed: ") + what);
}

// ---------------------------------------------------------------------------------------------
// tensor table: slot i holds id i + 1; freed slots are reused
namespace {
std::vector<at::Tensor> slots;
std::vector<uint32_t> freeSlots;
int64_t live = 0;
int64_t bytes = 0;
}  // namespace

uint32_t store(at::Tensor t) {
  live++;
  bytes += static_cast<int64_t>(t.nbytes());
  if (!freeSlots.empty()) {
    uint32_t i = freeSlots.back();
    freeSlots.pop_back();
    slots[i] = std::move(t);
    return i + 1;
  }
  slots.push_back(std::move(t));
  return static_cast<uint32_t>(slots.size());
}

const at::Tensor& lookup(uint32_t id) {
  if (id == 0 || id > slots.size() || !slots[id - 1].defined()) throw Error("seg-torch: unknown tensor id " + std::to_string(id));
  return slots[id - 1];
}

void release(uint32_t id) {
  const at::Tensor& t = lookup(id);
  live--;
  bytes -= static_cast<int64_t>(t.nbytes());
  slots[id - 1] = at::Tensor();
  freeSlots.push_back(id - 1);
}

int64_t liveTensors() { return live; }
int64_t liveBytes() { return bytes; }

// ---------------------------------------------------------------------------------------------
Call::Call(napi_env e, napi_callback_info info) : env(e) {
  argc = sizeof(argv) / sizeof(argv[0]);
  check(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "get_cb_info");
}

napi_value Call::arg(size_t i) const {
  if (i >= argc) throw Error("seg-torch: missing argument " + std::to_string(i));
  return argv[i];
}

double Call::num(size_t i) const {
  double d;
  if (napi_get_value_double(env, arg(i), &d) != napi_ok) throw Error("seg-torch: argument " + std::to_string(i) + " must be a number");
  return d;
}

int64_t Call::i64(size_t i) const {
  int64_t v;
  if (napi_get_value_int64(env, arg(i), &v) != napi_ok) throw Error("seg-torch: argument " + std::to_string(i) + " must be an integer");
  return v;
}

bool Call::flag(size_t i) const {
  bool b;
  if (napi_get_value_bool(env, arg(i), &b) != napi_ok) throw Error("seg-torch: argument " + std::to_string(i) + " must be a boolean");
  return b;
}

std::string Call::str(size_t i) const {
  size_t n;
  check(napi_get_value_string_utf8(env, arg(i), nullptr, 0, &n), "string length");
  std::string s(n, '\0');
  check(napi_get_value_string_utf8(env, arg(i), s.data(), n + 1, &n), "string");
  return s;
}

std::vector<int64_t> Call::intsOf(napi_value v) const {
  uint32_t n;
  if (napi_get_array_length(env, v, &n) != napi_ok) throw Error("seg-torch: expected an array of integers");
  std::vector<int64_t> out(n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    check(napi_get_element(env, v, i, &e), "array element");
    if (napi_get_value_int64(env, e, &out[i]) != napi_ok) throw Error("seg-torch: expected an array of integers");
  }
  return out;
}

std::vector<int64_t> Call::ints(size_t i) const { return intsOf(arg(i)); }

at::Tensor Call::fromValue(napi_value ref, const std::vector<int64_t>& shape) {
  napi_valuetype type;
  check(napi_typeof(env, ref, &type), "typeof");
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  if (type == napi_number) {
    uint32_t id;
    check(napi_get_value_uint32(env, ref, &id), "tensor id");
    const at::Tensor& t = lookup(id);
    if (t.numel() != numel) throw Error("seg-torch: tensor " + std::to_string(id) + " has " + std::to_string(t.numel()) + " elements, not " + std::to_string(numel));
    return t.view(shape);
  }
  bool isTyped = false;
  check(napi_is_typedarray(env, ref, &isTyped), "is_typedarray");
  if (!isTyped) throw Error("seg-torch: a tensor input must be a tensor id or a typed array");
  napi_typedarray_type ttype;
  size_t length;
  void* data;
  napi_value buffer;
  size_t offset;
  check(napi_get_typedarray_info(env, ref, &ttype, &length, &data, &buffer, &offset), "typedarray_info");
  at::ScalarType st;
  switch (ttype) {
    case napi_float32_array: st = at::kFloat; break;
    case napi_int32_array: st = at::kInt; break;
    case napi_uint8_array: st = at::kBool; break;  // tfjs stores bool tensors as Uint8Array of 0/1
    default: throw Error("seg-torch: unsupported typed array (float32, int32 and uint8 only)");
  }
  if (static_cast<int64_t>(length) != numel) throw Error("seg-torch: typed array has " + std::to_string(length) + " elements, shape needs " + std::to_string(numel));
  if (numel == 0) return at::empty(shape, at::TensorOptions().dtype(st));
  blobs_.push_back(data);
  return at::from_blob(data, shape, at::TensorOptions().dtype(st));
}

at::Tensor Call::tensor(size_t ref, size_t shape) { return fromValue(arg(ref), ints(shape)); }

std::vector<at::Tensor> Call::tensors(size_t refs, size_t shapes) {
  uint32_t n, m;
  if (napi_get_array_length(env, arg(refs), &n) != napi_ok || napi_get_array_length(env, arg(shapes), &m) != napi_ok || n != m)
    throw Error("seg-torch: expected two arrays of the same length (tensor refs and shapes)");
  std::vector<at::Tensor> out;
  out.reserve(n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value r, s;
    check(napi_get_element(env, arg(refs), i, &r), "ref element");
    check(napi_get_element(env, arg(shapes), i, &s), "shape element");
    out.push_back(fromValue(r, intsOf(s)));
  }
  return out;
}

uint32_t Call::keep(const at::Tensor& t) {
  at::Tensor c = t.contiguous();
  // A result may be a view of (or identical to) a wrapped JS array, whose memory is only ours for
  // this call: copy it then.
  if (c.numel() > 0) {
    const void* base = c.storage().data();
    for (const void* b : blobs_) {
      if (b == base) {
        c = c.clone(at::MemoryFormat::Contiguous);
        break;
      }
    }
  }
  return store(std::move(c));
}

napi_value Call::ret(const at::Tensor& t) {
  napi_value v;
  check(napi_create_uint32(env, keep(t), &v), "create id");
  return v;
}

napi_value Call::ret(const std::vector<at::Tensor>& ts) {
  napi_value arr;
  check(napi_create_array_with_length(env, ts.size(), &arr), "create array");
  for (size_t i = 0; i < ts.size(); i++) {
    napi_value v;
    check(napi_create_uint32(env, keep(ts[i]), &v), "create id");
    check(napi_set_element(env, arr, static_cast<uint32_t>(i), v), "set element");
  }
  return arr;
}

napi_value Call::undefined() const {
  napi_value u;
  check(napi_get_undefined(env, &u), "undefined");
  return u;
}

}  // namespace segtorch
