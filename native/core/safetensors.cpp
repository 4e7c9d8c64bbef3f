// safetensors: header validation, memory-mapped and buffered loading.
#include "engram/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "json.h"

namespace engram {

namespace {

constexpr uint64_t kMaxHeader = 100ull << 20;  // the reference implementation's limit

bool st_dtype(const std::string& s, DType* out) {
  static const std::pair<const char*, DType> kMap[] = {{"F32", DType::F32}, {"F16", DType::F16},
                                                       {"BF16", DType::BF16}, {"I32", DType::I32},
                                                       {"U8", DType::U8},   {"I8", DType::I8}};
  for (const auto& m : kMap)
    if (s == m.first) {
      *out = m.second;
      return true;
    }
  return false;
}

uint64_t read_u64le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

const json::Value* member(const json::Value& o, const char* key) {
  for (const auto& m : o.members)
    if (m.first == key) return &m.second;
  return nullptr;
}

SafetensorsEntry parse_entry(const std::string& name, const json::Value& v) {
  auto bad = [&](const auto&... parts) { fail(ErrorCode::E_FORMAT, "safetensors: tensor '", name, "': ", parts...); };
  if (v.kind != json::Value::OBJECT) bad("entry is not an object");
  for (const auto& m : v.members)
    if (m.first != "dtype" && m.first != "shape" && m.first != "data_offsets") bad("unknown field '", m.first, "'");
  const json::Value *dt = member(v, "dtype"), *sh = member(v, "shape"), *off = member(v, "data_offsets");
  if (!dt || !sh || !off) bad("needs dtype, shape and data_offsets");
  SafetensorsEntry e;
  e.name = name;
  if (dt->kind != json::Value::STRING) bad("dtype is not a string");
  if (!st_dtype(dt->str, &e.dtype))
    bad("dtype '", dt->str, "' is not supported (F32, F16, BF16, I32, U8, I8)");
  if (sh->kind != json::Value::ARRAY) bad("shape is not an array");
  if (sh->items.size() > (size_t)kMaxDims) bad("shape has ", sh->items.size(), " dimensions (at most ", kMaxDims, ")");
  uint64_t numel = 1;
  bool zero = false;
  for (const auto& d : sh->items) {
    if (d.kind != json::Value::NUMBER || !d.is_uint || d.u > (1ull << 53)) bad("shape entries must be non-negative integers");
    e.shape.push_back((int64_t)d.u);
    if (d.u == 0) zero = true;
    else if (!zero && numel > (1ull << 60) / d.u) bad("shape ", e.shape.str(), " overflows");
    else if (!zero) numel *= d.u;
  }
  if (zero) numel = 0;
  if (numel > (1ull << 60) / elem_size(e.dtype)) bad("shape ", e.shape.str(), " overflows a byte count");
  if (off->kind != json::Value::ARRAY || off->items.size() != 2) bad("data_offsets must be [begin, end]");
  for (const auto& o : off->items)
    if (o.kind != json::Value::NUMBER || !o.is_uint) bad("data_offsets must be non-negative integers");
  e.begin = off->items[0].u;
  e.end = off->items[1].u;
  if (e.end < e.begin) bad("data_offsets [", e.begin, ", ", e.end, "] run backwards");
  const uint64_t want = numel * elem_size(e.dtype);
  if (e.end - e.begin != want)
    bad("data_offsets [", e.begin, ", ", e.end, "] hold ", e.end - e.begin, " bytes but ", dt->str, e.shape.str(),
        " needs ", want);
  return e;
}

// One mapping of a whole file; unmapped when the last tensor viewing it goes.
struct Mapping {
  void* base = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (base) munmap(base, size);
  }
};

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

void pread_all(int fd, void* dst, size_t n, uint64_t off, const std::string& path) {
  char* d = static_cast<char*>(dst);
  while (n) {
    ssize_t r = ::pread(fd, d, n, (off_t)off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) fail(ErrorCode::E_IO, "safetensors: reading '", path, "' failed: ", r < 0 ? std::strerror(errno) : "unexpected end of file");
    d += r;
    n -= (size_t)r;
    off += (uint64_t)r;
  }
}

}  // namespace

SafetensorsHeader parse_safetensors_header(const uint8_t* p, size_t avail, uint64_t file_size) {
  ENGRAM_CHECK(file_size >= 8 && avail >= 8, FORMAT, "safetensors: the file is ", file_size,
               " bytes, shorter than its 8-byte header length");
  const uint64_t n = read_u64le(p);
  ENGRAM_CHECK(n <= kMaxHeader, FORMAT, "safetensors: header length ", n, " exceeds the 100 MiB limit");
  ENGRAM_CHECK(n <= file_size - 8, FORMAT, "safetensors: header length ", n, " runs past the end of the ", file_size,
               "-byte file");
  ENGRAM_CHECK(n >= 2, FORMAT, "safetensors: header length ", n, " is too short for a JSON object");
  ENGRAM_CHECK(avail >= 8 + n, INTERNAL, "safetensors: header not fully read");
  const char* h = reinterpret_cast<const char*>(p + 8);
  ENGRAM_CHECK(h[0] == '{', FORMAT, "safetensors: the header does not start with '{'");
  json::Value root = json::parse(h, (size_t)n, "safetensors header", 4);
  ENGRAM_CHECK(root.kind == json::Value::OBJECT, FORMAT, "safetensors: the header is not a JSON object");
  SafetensorsHeader hdr;
  hdr.data_start = 8 + n;
  const uint64_t data_len = file_size - hdr.data_start;
  for (const auto& m : root.members) {
    if (m.first == "__metadata__") {
      ENGRAM_CHECK(m.second.kind == json::Value::OBJECT, FORMAT, "safetensors: __metadata__ is not an object");
      for (const auto& kv : m.second.members) {
        ENGRAM_CHECK(kv.second.kind == json::Value::STRING, FORMAT, "safetensors: __metadata__ value of '", kv.first,
                     "' is not a string");
        hdr.metadata.emplace_back(kv.first, kv.second.str);
      }
      continue;
    }
    ENGRAM_CHECK(!m.first.empty(), FORMAT, "safetensors: a tensor has an empty name");
    hdr.tensors.push_back(parse_entry(m.first, m.second));
  }
  // The data section must be covered exactly: no overlaps, no holes, nothing past EOF.
  std::vector<const SafetensorsEntry*> by_off;
  for (const auto& e : hdr.tensors) by_off.push_back(&e);
  std::stable_sort(by_off.begin(), by_off.end(), [](const SafetensorsEntry* a, const SafetensorsEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t at = 0;
  const SafetensorsEntry* prev = nullptr;
  for (const SafetensorsEntry* e : by_off) {
    ENGRAM_CHECK(e->end <= data_len, FORMAT, "safetensors: tensor '", e->name, "' data [", e->begin, ", ", e->end,
                 ") runs past the end of the file (data section is ", data_len, " bytes)");
    ENGRAM_CHECK(e->begin >= at, FORMAT, "safetensors: tensor '", e->name, "' data [", e->begin, ", ", e->end,
                 ") overlaps tensor '", prev ? prev->name : "?", "'");
    ENGRAM_CHECK(e->begin == at, FORMAT, "safetensors: bytes [", at, ", ", e->begin, ") before tensor '", e->name,
                 "' belong to no tensor (holes are not allowed)");
    at = e->end;
    prev = e;
  }
  ENGRAM_CHECK(at == data_len, FORMAT, "safetensors: the last ", data_len - at,
               " bytes of the file belong to no tensor (holes are not allowed)");
  return hdr;
}

SafetensorsFile load_safetensors(const std::string& path, bool use_mmap) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ENGRAM_CHECK(f.fd >= 0, IO, "safetensors: cannot open '", path, "': ", std::strerror(errno));
  struct stat sb;
  ENGRAM_CHECK(::fstat(f.fd, &sb) == 0, IO, "safetensors: cannot stat '", path, "': ", std::strerror(errno));
  ENGRAM_CHECK(S_ISREG(sb.st_mode), IO, "safetensors: '", path, "' is not a regular file");
  const uint64_t size = (uint64_t)sb.st_size;
  SafetensorsFile out;
  if (use_mmap && size >= 8) {
    auto map = std::make_shared<Mapping>();
    void* base = ::mmap(nullptr, (size_t)size, PROT_READ | PROT_WRITE, MAP_PRIVATE, f.fd, 0);
    ENGRAM_CHECK(base != MAP_FAILED, IO, "safetensors: mmap of '", path, "' failed: ", std::strerror(errno));
    map->base = base;
    map->size = (size_t)size;
    const uint8_t* p = static_cast<const uint8_t*>(base);
    out.header = parse_safetensors_header(p, (size_t)size, size);
    out.mapped = true;
    for (const auto& e : out.header.tensors) {
      uint8_t* src = static_cast<uint8_t*>(base) + out.header.data_start + e.begin;
      const size_t bytes = (size_t)(e.end - e.begin);
      if ((uintptr_t)src % elem_size(e.dtype) == 0) {
        auto st = std::make_shared<Storage>(DeviceType::CPU, src, bytes, map);
        out.tensors.push_back(Tensor::view_of(st, e.shape, contiguous_strides(e.shape), 0, e.dtype));
      } else {
        Tensor t = Tensor::empty(e.shape, e.dtype);
        if (bytes) std::memcpy(t.raw(), src, bytes);
        out.tensors.push_back(t);
      }
    }
    return out;
  }
  // Buffered: read the header, then each tensor straight into its buffer.
  uint8_t len8[8] = {};
  if (size >= 8) pread_all(f.fd, len8, 8, 0, path);
  std::vector<uint8_t> head(8);
  std::memcpy(head.data(), len8, 8);
  if (size >= 8) {
    const uint64_t n = read_u64le(len8);
    if (n <= kMaxHeader && n <= size - 8) {
      head.resize(8 + (size_t)n);
      pread_all(f.fd, head.data() + 8, (size_t)n, 8, path);
    }
  }
  out.header = parse_safetensors_header(head.data(), head.size(), size);
  for (const auto& e : out.header.tensors) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.end > e.begin) pread_all(f.fd, t.raw(), (size_t)(e.end - e.begin), out.header.data_start + e.begin, path);
    out.tensors.push_back(t);
  }
  return out;
}

SafetensorsFile load_safetensors_bytes(const uint8_t* p, size_t n) {
  SafetensorsFile out;
  out.header = parse_safetensors_header(p, n, n);
  for (const auto& e : out.header.tensors) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.raw(), p + out.header.data_start + e.begin, (size_t)(e.end - e.begin));
    out.tensors.push_back(t);
  }
  return out;
}

}  // namespace engram
