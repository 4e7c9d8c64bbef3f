// Tensor, Dims and Storage: shape bookkeeping, checked sizes, views.
#include "engram/tensor.h"

#include <algorithm>
#include <sstream>

#include "engram/alloc.h"
#include "engram/backend.h"

namespace engram {

const char* device_name(DeviceType d) { return d == DeviceType::CPU ? "cpu" : "cuda"; }

bool parse_device(const char* s, DeviceType* out) {
  std::string v(s);
  if (v == "cpu") *out = DeviceType::CPU;
  else if (v == "cuda" || v == "gpu") *out = DeviceType::CUDA;
  else return false;
  return true;
}

bool parse_dtype(const char* s, DType* out) {
  for (int i = 0; i < (int)DType::COUNT; ++i)
    if (std::string(s) == kDTypeTraits[i].name) {
      *out = (DType)i;
      return true;
    }
  return false;
}

Dims::Dims(std::initializer_list<int64_t> l) {
  ENGRAM_CHECK(l.size() <= (size_t)kMaxDims, SHAPE, "at most ", kMaxDims, " dimensions, got ", l.size());
  for (int64_t x : l) v[n++] = x;
}
Dims::Dims(const std::vector<int64_t>& l) {
  ENGRAM_CHECK(l.size() <= (size_t)kMaxDims, SHAPE, "at most ", kMaxDims, " dimensions, got ", l.size());
  for (int64_t x : l) v[n++] = x;
}
void Dims::push_back(int64_t x) {
  ENGRAM_CHECK(n < kMaxDims, SHAPE, "at most ", kMaxDims, " dimensions");
  v[n++] = x;
}
bool Dims::operator==(const Dims& o) const {
  if (n != o.n) return false;
  for (int i = 0; i < n; ++i)
    if (v[i] != o.v[i]) return false;
  return true;
}
std::string Dims::str() const {
  std::ostringstream os;
  os << '[';
  for (int i = 0; i < n; ++i) os << (i ? ", " : "") << v[i];
  os << ']';
  return os.str();
}

int64_t checked_numel(const Dims& shape) {
  int64_t n = 1;
  for (int i = 0; i < shape.n; ++i) {
    int64_t d = shape[i];
    ENGRAM_CHECK(d >= 0, SHAPE, "negative dimension ", d, " in shape ", shape.str());
    if (d != 0 && n > ((int64_t)1 << 62) / d)
      fail(ErrorCode::E_OVERFLOW, "shape ", shape.str(), " has more than 2^62 elements");
    n *= d;
  }
  return n;
}

Dims contiguous_strides(const Dims& shape) {
  Dims s;
  s.n = shape.n;
  int64_t acc = 1;
  for (int i = shape.n - 1; i >= 0; --i) {
    s[i] = acc;
    acc *= std::max<int64_t>(shape[i], 1);
  }
  return s;
}

int norm_axis(int axis, int ndim, const char* what) {
  int a = axis < 0 ? axis + ndim : axis;
  ENGRAM_CHECK(a >= 0 && a < ndim, ARG, what, ": axis ", axis, " out of range for ", ndim, " dimensions");
  return a;
}

Storage::Storage(DeviceType dev, size_t nbytes) : bytes(nbytes), device(dev) {
  data = device_alloc(dev, nbytes);
}
Storage::Storage(DeviceType dev, void* ext, size_t nbytes, std::shared_ptr<void> keep_alive)
    : data(ext), bytes(nbytes), device(dev), external(true), owner(std::move(keep_alive)) {}
Storage::~Storage() {
  if (!external) device_free(device, data, bytes);
}

static size_t checked_bytes(const Dims& shape, DType dtype) {
  int64_t n = checked_numel(shape);
  const auto& tr = traits(dtype);
  if (tr.packed) {
    ENGRAM_CHECK(shape.n == 0 || shape[shape.n - 1] % tr.block == 0, SHAPE, dtype_name(dtype),
                 " tensors need a last dimension divisible by ", tr.block, ", got ", shape.str());
  }
  if ((uint64_t)n > (~(uint64_t)0 >> 4) / (uint64_t)tr.block_bytes)
    fail(ErrorCode::E_OVERFLOW, "shape ", shape.str(), " of ", dtype_name(dtype), " overflows a byte count");
  return dtype_bytes(dtype, (size_t)n);
}

Tensor Tensor::empty(const Dims& shape, DType dtype, DeviceType dev) {
  ENGRAM_CHECK(dtype < DType::COUNT, DTYPE, "unknown dtype");
  size_t bytes = checked_bytes(shape, dtype);
  Tensor t;
  t.storage_ = std::make_shared<Storage>(dev, bytes);
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::zeros(const Dims& shape, DType dtype, DeviceType dev) {
  Tensor t = empty(shape, dtype, dev);
  if (t.storage_->bytes) {
    fill_bytes(dev, t.storage_->data, 0, t.storage_->bytes);
  }
  return t;
}

Tensor Tensor::view_of(std::shared_ptr<Storage> st, const Dims& shape, const Dims& strides, int64_t offset,
                       DType dtype) {
  ENGRAM_CHECK(st, INTERNAL, "view of null storage");
  ENGRAM_CHECK(shape.n == strides.n, SHAPE, "shape ", shape.str(), " and strides ", strides.str(), " differ in rank");
  int64_t n = checked_numel(shape);
  if (n > 0) {
    // Every addressed element must lie in the storage.
    int64_t lo = offset, hi = offset;
    for (int i = 0; i < shape.n; ++i) {
      int64_t span = (shape[i] - 1) * strides[i];
      if (span < 0) lo += span; else hi += span;
    }
    size_t esz = traits(dtype).packed ? 1 : elem_size(dtype);
    size_t cap_elems = traits(dtype).packed ? st->bytes * traits(dtype).block : st->bytes / esz;
    ENGRAM_CHECK(lo >= 0 && hi < (int64_t)cap_elems, SHAPE, "view ", shape.str(), " strides ", strides.str(),
                 " offset ", offset, " exceeds its storage (", st->bytes, " bytes)");
  }
  Tensor t;
  t.storage_ = std::move(st);
  t.shape_ = shape;
  t.strides_ = strides;
  t.offset_ = offset;
  t.dtype_ = dtype;
  if (traits(dtype).packed)
    ENGRAM_CHECK(t.is_contiguous(), SHAPE, dtype_name(dtype), " views must be contiguous");
  return t;
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int i = 0; i < shape_.n; ++i) n *= shape_[i];
  return n;
}

bool Tensor::is_contiguous() const {
  int64_t acc = 1;
  for (int i = shape_.n - 1; i >= 0; --i) {
    if (shape_[i] == 1) continue;
    if (strides_[i] != acc) return false;
    acc *= shape_[i];
  }
  return true;
}

void* Tensor::raw() const {
  ENGRAM_CHECK(storage_, INTERNAL, "raw() of an undefined tensor");
  const auto& tr = traits(dtype_);
  size_t off = tr.packed ? (size_t)offset_ / tr.block * tr.block_bytes : (size_t)offset_ * tr.block_bytes;
  return static_cast<char*>(storage_->data) + off;
}

Tensor Tensor::permute(const std::vector<int>& perm) const {
  ENGRAM_CHECK((int)perm.size() == shape_.n, SHAPE, "permute: ", perm.size(), " axes for a ", shape_.n, "-d tensor");
  ENGRAM_CHECK(!traits(dtype_).packed, DTYPE, "permute of packed ", dtype_name(dtype_));
  Tensor t = *this;
  bool seen[kMaxDims] = {};
  for (int i = 0; i < shape_.n; ++i) {
    int p = norm_axis(perm[i], shape_.n, "permute");
    ENGRAM_CHECK(!seen[p], ARG, "permute: axis ", p, " repeated");
    seen[p] = true;
    t.shape_[i] = shape_[p];
    t.strides_[i] = strides_[p];
  }
  return t;
}

Tensor Tensor::transpose(int d0, int d1) const {
  std::vector<int> perm(shape_.n);
  for (int i = 0; i < shape_.n; ++i) perm[i] = i;
  int a = norm_axis(d0, shape_.n, "transpose"), b = norm_axis(d1, shape_.n, "transpose");
  std::swap(perm[a], perm[b]);
  return permute(perm);
}

Tensor Tensor::reshape(const Dims& shape) const {
  Dims s = shape;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < s.n; ++i) {
    if (s[i] == -1) {
      ENGRAM_CHECK(infer < 0, SHAPE, "reshape: more than one -1 in ", shape.str());
      infer = i;
    } else {
      ENGRAM_CHECK(s[i] >= 0, SHAPE, "reshape: negative dimension in ", shape.str());
      known *= s[i];
    }
  }
  if (infer >= 0) {
    ENGRAM_CHECK(known > 0 && numel() % known == 0, SHAPE, "reshape: cannot infer -1 in ", shape.str(),
                 " for ", numel(), " elements");
    s[infer] = numel() / known;
  }
  ENGRAM_CHECK(checked_numel(s) == numel(), SHAPE, "reshape: ", shape_.str(), " (", numel(), " elements) to ",
               s.str());
  ENGRAM_CHECK(is_contiguous(), SHAPE, "reshape of a non-contiguous view ", shape_.str(),
               "; call contiguous() first");
  Tensor t = *this;
  t.shape_ = s;
  t.strides_ = contiguous_strides(s);
  return t;
}

Tensor Tensor::slice(int dim, int64_t start, int64_t end) const {
  int d = norm_axis(dim, shape_.n, "slice");
  int64_t n = shape_[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  ENGRAM_CHECK(start >= 0 && start <= end && end <= n, ARG, "slice [", start, ", ", end, ") out of range for size ", n);
  ENGRAM_CHECK(!traits(dtype_).packed || d == 0 || shape_.n == 1, DTYPE, "slice of packed ", dtype_name(dtype_),
               " only along the first axis");
  Tensor t = *this;
  t.shape_[d] = end - start;
  t.offset_ += start * strides_[d];
  return t;
}

Tensor Tensor::select(int dim, int64_t index) const {
  int d = norm_axis(dim, shape_.n, "select");
  if (index < 0) index += shape_[d];
  ENGRAM_CHECK(index >= 0 && index < shape_[d], ARG, "select: index ", index, " out of range for size ", shape_[d]);
  Tensor t = *this;
  t.offset_ += index * strides_[d];
  for (int i = d; i + 1 < shape_.n; ++i) {
    t.shape_[i] = shape_[i + 1];
    t.strides_[i] = strides_[i + 1];
  }
  t.shape_.n--;
  t.strides_.n--;
  return t;
}

Tensor Tensor::unsqueeze(int dim) const {
  int d = dim < 0 ? dim + shape_.n + 1 : dim;
  ENGRAM_CHECK(d >= 0 && d <= shape_.n && shape_.n < kMaxDims, ARG, "unsqueeze: bad axis ", dim);
  Tensor t = *this;
  t.shape_.n++;
  t.strides_.n++;
  for (int i = shape_.n; i > d; --i) {
    t.shape_[i] = shape_[i - 1];
    t.strides_[i] = strides_[i - 1];
  }
  t.shape_[d] = 1;
  t.strides_[d] = d < shape_.n ? shape_[d] * strides_[d] : 1;
  return t;
}

Tensor Tensor::as_dtype_view(DType dt) const {
  ENGRAM_CHECK(!traits(dt).packed && !traits(dtype_).packed && elem_size(dt) == elem_size(dtype_), DTYPE,
               "cannot view ", dtype_name(dtype_), " as ", dtype_name(dt));
  Tensor t = *this;
  t.dtype_ = dt;
  return t;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined";
  std::ostringstream os;
  os << dtype_name(dtype_) << shape_.str() << ' ' << device_name(device());
  if (!is_contiguous()) os << " (strided)";
  return os.str();
}

}  // namespace engram
