// Op attributes: a small typed key/value list. The N-API layer and the graph
// compiler build Attrs; each op's parser reads them into its typed params
// struct and rejects unknown keys, so a typo in an option is an E_ARG error
// and never silently ignored.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace engram {

struct AttrValue {
  enum Kind { NUMBER, BOOL, STRING, NUMBERS } kind = NUMBER;
  double num = 0;
  bool b = false;
  std::string str;
  std::vector<double> nums;
};

class Attrs {
 public:
  void set(const std::string& key, AttrValue v);
  void set_number(const std::string& key, double v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, const std::string& v);
  void set_numbers(const std::string& key, std::vector<double> v);

  bool has(const std::string& key) const;
  // Getters mark the key as used; wrong kinds are E_ARG naming op and key.
  int64_t get_int(const char* op, const std::string& key, int64_t def) const;
  double get_float(const char* op, const std::string& key, double def) const;
  bool get_bool(const char* op, const std::string& key, bool def) const;
  std::string get_string(const char* op, const std::string& key, const std::string& def) const;
  std::vector<int64_t> get_ints(const char* op, const std::string& key) const;  // empty if absent
  std::vector<double> get_floats(const char* op, const std::string& key) const;

  // E_ARG "op: unknown option 'x' (known: a, b)" if a key was never read.
  void check_all_used(const char* op) const;
  const std::vector<std::pair<std::string, AttrValue>>& items() const { return items_; }

 private:
  const AttrValue* find(const std::string& key) const;
  std::vector<std::pair<std::string, AttrValue>> items_;
  mutable std::vector<std::string> used_;
};

}  // namespace engram
