// A small strict JSON reader for untrusted input (safetensors headers): every
// read is bounds-checked, nesting depth and sizes are capped, numbers are
// kept as text plus an exact unsigned-integer reading. Errors are E_FORMAT.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace engram {
namespace json {

struct Value {
  enum Kind { NUL, BOOL, NUMBER, STRING, ARRAY, OBJECT } kind = NUL;
  bool b = false;
  std::string str;        // STRING: decoded UTF-8; NUMBER: the literal text
  bool is_uint = false;   // NUMBER: a plain non-negative integer literal that fits in uint64
  uint64_t u = 0;
  std::vector<Value> items;                          // ARRAY
  std::vector<std::pair<std::string, Value>> members;  // OBJECT (source order, keys unique)
};

// Parses exactly one JSON value spanning [p, p + n) (surrounding whitespace
// allowed). `what` prefixes error messages ("safetensors header").
Value parse(const char* p, size_t n, const char* what, int max_depth = 16);

}  // namespace json
}  // namespace engram
