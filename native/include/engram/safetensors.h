// safetensors reading (the format of the Hugging Face ecosystem):
//   [u64 little-endian N][N bytes of JSON header][data]
//   header: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
//            ..., "__metadata__": {"key": "value"}}
// Offsets are relative to the data section. Validation is strict so a corrupt
// or hostile file is an E_FORMAT error and never a read out of bounds: header
// size vs file size, JSON syntax, known fields only, dtypes F32/F16/BF16/I32/
// U8/I8, shapes (rank <= 8, no overflow of elements or bytes), end - begin ==
// bytes of shape x dtype, no overlaps or holes, nothing past the end of file.
// Writing lives in lib/weights/safetensors.ts.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tensor.h"

namespace engram {

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::F32;
  Dims shape;
  uint64_t begin = 0, end = 0;  // byte range inside the data section
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> tensors;  // in file order
  std::vector<std::pair<std::string, std::string>> metadata;
  uint64_t data_start = 0;  // 8 + N
};

// Validates the header of a file of `file_size` bytes whose first `avail`
// bytes are at `p` (avail may be less than the file; the header must fit).
SafetensorsHeader parse_safetensors_header(const uint8_t* p, size_t avail, uint64_t file_size);

struct SafetensorsFile {
  SafetensorsHeader header;
  std::vector<Tensor> tensors;  // same order as header.tensors (CPU)
  bool mapped = false;
};

// mmap: tensors view a private read-write mapping of the file (writes stay in
// memory; the mapping lives as long as any tensor does). Tensors whose data is
// not aligned to their element size are copied. Without mmap each tensor is
// read into its own buffer.
SafetensorsFile load_safetensors(const std::string& path, bool mmap);
// From bytes in memory (copies; used by the fuzz tests).
SafetensorsFile load_safetensors_bytes(const uint8_t* p, size_t n);

}  // namespace engram
