// Attrs: typed option lists with "unknown option" detection.
#include "engram/attrs.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engram/error.h"

namespace engram {

void Attrs::set(const std::string& key, AttrValue v) {
  for (auto& kv : items_)
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  items_.emplace_back(key, std::move(v));
}
void Attrs::set_number(const std::string& key, double v) {
  AttrValue a;
  a.kind = AttrValue::NUMBER;
  a.num = v;
  set(key, a);
}
void Attrs::set_bool(const std::string& key, bool v) {
  AttrValue a;
  a.kind = AttrValue::BOOL;
  a.b = v;
  set(key, a);
}
void Attrs::set_string(const std::string& key, const std::string& v) {
  AttrValue a;
  a.kind = AttrValue::STRING;
  a.str = v;
  set(key, a);
}
void Attrs::set_numbers(const std::string& key, std::vector<double> v) {
  AttrValue a;
  a.kind = AttrValue::NUMBERS;
  a.nums = std::move(v);
  set(key, a);
}

bool Attrs::has(const std::string& key) const { return find(key) != nullptr; }

// Records every key asked for (found or not): those are the op's known options.
const AttrValue* Attrs::find(const std::string& key) const {
  if (std::find(used_.begin(), used_.end(), key) == used_.end()) used_.push_back(key);
  for (const auto& kv : items_)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

static const char* kind_name(AttrValue::Kind k) {
  switch (k) {
    case AttrValue::NUMBER: return "a number";
    case AttrValue::BOOL: return "a boolean";
    case AttrValue::STRING: return "a string";
    case AttrValue::NUMBERS: return "an array of numbers";
  }
  return "?";
}

int64_t Attrs::get_int(const char* op, const std::string& key, int64_t def) const {
  const AttrValue* v = find(key);
  if (!v) return def;
  ENGRAM_CHECK(v->kind == AttrValue::NUMBER, ARG, op, ": option '", key, "' must be an integer, got ",
               kind_name(v->kind));
  ENGRAM_CHECK(std::isfinite(v->num) && v->num == std::floor(v->num) && std::fabs(v->num) < 9.0e15, ARG, op,
               ": option '", key, "' must be an integer, got ", v->num);
  return (int64_t)v->num;
}

double Attrs::get_float(const char* op, const std::string& key, double def) const {
  const AttrValue* v = find(key);
  if (!v) return def;
  ENGRAM_CHECK(v->kind == AttrValue::NUMBER, ARG, op, ": option '", key, "' must be a number, got ",
               kind_name(v->kind));
  ENGRAM_CHECK(!std::isnan(v->num), NAN, op, ": option '", key, "' is NaN");
  return v->num;
}

bool Attrs::get_bool(const char* op, const std::string& key, bool def) const {
  const AttrValue* v = find(key);
  if (!v) return def;
  ENGRAM_CHECK(v->kind == AttrValue::BOOL, ARG, op, ": option '", key, "' must be a boolean, got ",
               kind_name(v->kind));
  return v->b;
}

std::string Attrs::get_string(const char* op, const std::string& key, const std::string& def) const {
  const AttrValue* v = find(key);
  if (!v) return def;
  ENGRAM_CHECK(v->kind == AttrValue::STRING, ARG, op, ": option '", key, "' must be a string, got ",
               kind_name(v->kind));
  return v->str;
}

std::vector<int64_t> Attrs::get_ints(const char* op, const std::string& key) const {
  std::vector<int64_t> out;
  const AttrValue* v = find(key);
  if (!v) return out;
  ENGRAM_CHECK(v->kind == AttrValue::NUMBERS, ARG, op, ": option '", key, "' must be an array of integers, got ",
               kind_name(v->kind));
  for (double d : v->nums) {
    ENGRAM_CHECK(std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15, ARG, op, ": option '", key,
                 "' holds a non-integer ", d);
    out.push_back((int64_t)d);
  }
  return out;
}

std::vector<double> Attrs::get_floats(const char* op, const std::string& key) const {
  const AttrValue* v = find(key);
  if (!v) return {};
  ENGRAM_CHECK(v->kind == AttrValue::NUMBERS, ARG, op, ": option '", key, "' must be an array of numbers, got ",
               kind_name(v->kind));
  return v->nums;
}

void Attrs::check_all_used(const char* op) const {
  for (const auto& kv : items_) {
    if (std::find(used_.begin(), used_.end(), kv.first) != used_.end()) continue;
    std::ostringstream known;
    for (size_t i = 0; i < used_.size(); ++i) known << (i ? ", " : "") << used_[i];
    fail(ErrorCode::E_ARG, op, ": unknown option '", kv.first, "'",
         used_.empty() ? std::string(" (this op takes no options)") : " (known options: " + known.str() + ")");
  }
}

}  // namespace engram
