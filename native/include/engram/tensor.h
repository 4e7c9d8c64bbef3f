// Tensor = shared storage + offset + shape + strides + dtype. Strides and the
// offset count elements (not bytes). Views (permute, slice, reshape of a
// contiguous tensor) share storage; ops accept strided views.
//
// Layout convention for sequence tensors: [B, T, H, D]; states are f32.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "dtype.h"
#include "error.h"

namespace engram {

enum class DeviceType : uint8_t { CPU = 0, CUDA = 1 };
constexpr int kNumDeviceTypes = 2;
const char* device_name(DeviceType d);
bool parse_device(const char* s, DeviceType* out);

constexpr int kMaxDims = 8;

// Small fixed-capacity int64 vector for shapes and strides.
struct Dims {
  int n = 0;
  int64_t v[kMaxDims] = {};
  Dims() = default;
  Dims(std::initializer_list<int64_t> l);
  explicit Dims(const std::vector<int64_t>& l);
  int64_t operator[](int i) const { return v[i]; }
  int64_t& operator[](int i) { return v[i]; }
  int size() const { return n; }
  void push_back(int64_t x);
  bool operator==(const Dims& o) const;
  bool operator!=(const Dims& o) const { return !(*this == o); }
  std::vector<int64_t> vec() const { return std::vector<int64_t>(v, v + n); }
  std::string str() const;  // "[2, 3, 4]"
};

// Checked product of dims; throws E_SHAPE on negative dims, E_OVERFLOW past 2^62.
int64_t checked_numel(const Dims& shape);
Dims contiguous_strides(const Dims& shape);

struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  DeviceType device = DeviceType::CPU;
  // External memory (a file mapping, or none for shape-only "meta" tensors):
  // not counted by the allocator; `owner` keeps it alive and frees it.
  bool external = false;
  std::shared_ptr<void> owner;
  Storage(DeviceType dev, size_t nbytes);  // allocates through the device's allocator
  Storage(DeviceType dev, void* ext, size_t nbytes, std::shared_ptr<void> keep_alive);  // external
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct TensorSpec {
  Dims shape;
  DType dtype = DType::F32;
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor (absent optional input)

  // Fresh contiguous tensor. Contents are uninitialised (NaN-poisoned when
  // poisoning is on, see alloc.h).
  static Tensor empty(const Dims& shape, DType dtype, DeviceType dev = DeviceType::CPU);
  static Tensor zeros(const Dims& shape, DType dtype, DeviceType dev = DeviceType::CPU);
  // View over existing storage; bounds are checked against the storage size.
  static Tensor view_of(std::shared_ptr<Storage> st, const Dims& shape, const Dims& strides,
                        int64_t offset, DType dtype);

  bool defined() const { return (bool)storage_; }
  int ndim() const { return shape_.n; }
  const Dims& shape() const { return shape_; }
  const Dims& strides() const { return strides_; }
  int64_t size(int d) const { return shape_[d < 0 ? d + shape_.n : d]; }
  int64_t stride(int d) const { return strides_[d < 0 ? d + shape_.n : d]; }
  int64_t numel() const;
  int64_t offset() const { return offset_; }
  DType dtype() const { return dtype_; }
  DeviceType device() const { return storage_ ? storage_->device : DeviceType::CPU; }
  size_t nbytes() const { return dtype_bytes(dtype_, (size_t)numel()); }
  bool is_contiguous() const;
  // False for shape-only (meta) tensors, which plans use to infer shapes before data exist.
  bool has_data() const { return storage_ && storage_->data != nullptr; }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  TensorSpec spec() const { return {shape_, dtype_}; }

  // Raw pointer to element 0 of this view (storage + offset).
  void* raw() const;
  template <class T>
  T* data() const { return static_cast<T*>(raw()); }

  // ---- views (no copy) ----
  Tensor permute(const std::vector<int>& perm) const;
  Tensor transpose(int d0, int d1) const;
  Tensor reshape(const Dims& shape) const;  // contiguous tensors only (else E_SHAPE)
  Tensor slice(int dim, int64_t start, int64_t end) const;
  Tensor select(int dim, int64_t index) const;  // drops dim
  Tensor unsqueeze(int dim) const;
  Tensor as_dtype_view(DType) const;  // reinterpret bits (same element size)

  std::string describe() const;  // "f32[2, 3] cpu"

 private:
  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;
  Dims shape_, strides_;
  DType dtype_ = DType::F32;
};

// Normalises a possibly-negative axis against ndim; E_ARG when out of range.
int norm_axis(int axis, int ndim, const char* what);

}  // namespace engram
