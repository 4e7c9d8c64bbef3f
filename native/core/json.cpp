// Strict JSON reader (RFC 8259): no comments, no trailing commas, no NaN,
// duplicate object keys rejected, \u escapes with surrogate pairs checked.
#include "json.h"

#include "engram/error.h"

namespace engram {
namespace json {

namespace {
class Reader {
 public:
  Reader(const char* p, size_t n, const char* what, int max_depth) : p_(p), n_(n), what_(what), max_depth_(max_depth) {}

  Value document() {
    ws();
    Value v = value(0);
    ws();
    if (i_ != n_) bad("unexpected data after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void bad(const char* msg) { fail(ErrorCode::E_FORMAT, what_, ": ", msg, " at byte ", i_); }
  bool more() const { return i_ < n_; }
  char peek() const { return p_[i_]; }
  void ws() {
    while (more() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++i_;
  }
  void expect(char c) {
    if (!more() || peek() != c) bad((std::string("expected '") + c + "'").c_str());
    ++i_;
  }
  void literal(const char* word) {
    for (const char* w = word; *w; ++w) {
      if (!more() || peek() != *w) bad("invalid literal");
      ++i_;
    }
  }

  Value value(int depth) {
    if (depth > max_depth_) bad("nesting too deep");
    if (++count_ > kMaxValues) bad("too many values");
    if (!more()) bad("unexpected end of input");
    Value v;
    switch (peek()) {
      case '{': object(v, depth); break;
      case '[': array(v, depth); break;
      case '"':
        v.kind = Value::STRING;
        v.str = string();
        break;
      case 't':
        literal("true");
        v.kind = Value::BOOL;
        v.b = true;
        break;
      case 'f':
        literal("false");
        v.kind = Value::BOOL;
        break;
      case 'n':
        literal("null");
        break;
      default: number(v);
    }
    return v;
  }

  void object(Value& v, int depth) {
    v.kind = Value::OBJECT;
    expect('{');
    ws();
    if (more() && peek() == '}') {
      ++i_;
      return;
    }
    for (;;) {
      ws();
      if (!more() || peek() != '"') bad("expected a string key");
      std::string key = string();
      for (const auto& m : v.members)
        if (m.first == key) fail(ErrorCode::E_FORMAT, what_, ": duplicate key '", key, "'");
      ws();
      expect(':');
      ws();
      v.members.emplace_back(std::move(key), value(depth + 1));
      ws();
      if (more() && peek() == ',') {
        ++i_;
        continue;
      }
      expect('}');
      return;
    }
  }

  void array(Value& v, int depth) {
    v.kind = Value::ARRAY;
    expect('[');
    ws();
    if (more() && peek() == ']') {
      ++i_;
      return;
    }
    for (;;) {
      ws();
      v.items.push_back(value(depth + 1));
      ws();
      if (more() && peek() == ',') {
        ++i_;
        continue;
      }
      expect(']');
      return;
    }
  }

  unsigned hex4() {
    unsigned x = 0;
    for (int k = 0; k < 4; ++k) {
      if (!more()) bad("truncated \\u escape");
      char c = peek();
      ++i_;
      x <<= 4;
      if (c >= '0' && c <= '9') x |= (unsigned)(c - '0');
      else if (c >= 'a' && c <= 'f') x |= (unsigned)(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') x |= (unsigned)(c - 'A' + 10);
      else bad("bad hex digit in \\u escape");
    }
    return x;
  }

  static void put_utf8(std::string& s, unsigned cp) {
    if (cp < 0x80) {
      s += (char)cp;
    } else if (cp < 0x800) {
      s += (char)(0xC0 | (cp >> 6));
      s += (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += (char)(0xE0 | (cp >> 12));
      s += (char)(0x80 | ((cp >> 6) & 0x3F));
      s += (char)(0x80 | (cp & 0x3F));
    } else {
      s += (char)(0xF0 | (cp >> 18));
      s += (char)(0x80 | ((cp >> 12) & 0x3F));
      s += (char)(0x80 | ((cp >> 6) & 0x3F));
      s += (char)(0x80 | (cp & 0x3F));
    }
  }

  std::string string() {
    expect('"');
    std::string s;
    for (;;) {
      if (!more()) bad("unterminated string");
      unsigned char c = (unsigned char)peek();
      ++i_;
      if (c == '"') return s;
      if (c < 0x20) bad("control character in a string");
      if (c != '\\') {
        s += (char)c;
        continue;
      }
      if (!more()) bad("truncated escape");
      char e = peek();
      ++i_;
      switch (e) {
        case '"': s += '"'; break;
        case '\\': s += '\\'; break;
        case '/': s += '/'; break;
        case 'b': s += '\b'; break;
        case 'f': s += '\f'; break;
        case 'n': s += '\n'; break;
        case 'r': s += '\r'; break;
        case 't': s += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (!(more() && peek() == '\\')) bad("unpaired surrogate");
            ++i_;
            if (!(more() && peek() == 'u')) bad("unpaired surrogate");
            ++i_;
            unsigned lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) bad("bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            bad("unpaired low surrogate");
          }
          put_utf8(s, cp);
          break;
        }
        default: bad("unknown escape");
      }
    }
  }

  void number(Value& v) {
    v.kind = Value::NUMBER;
    size_t start = i_;
    bool neg = false, frac = false;
    if (more() && peek() == '-') {
      neg = true;
      ++i_;
    }
    if (!more() || peek() < '0' || peek() > '9') bad("invalid value");
    if (peek() == '0' && i_ + 1 < n_ && p_[i_ + 1] >= '0' && p_[i_ + 1] <= '9') bad("leading zero in a number");
    bool overflow = false;
    uint64_t u = 0;
    while (more() && peek() >= '0' && peek() <= '9') {
      unsigned d = (unsigned)(peek() - '0');
      if (u > (UINT64_MAX - d) / 10) overflow = true;
      else u = u * 10 + d;
      ++i_;
    }
    if (more() && peek() == '.') {
      frac = true;
      ++i_;
      if (!more() || peek() < '0' || peek() > '9') bad("digit expected after '.'");
      while (more() && peek() >= '0' && peek() <= '9') ++i_;
    }
    if (more() && (peek() == 'e' || peek() == 'E')) {
      frac = true;
      ++i_;
      if (more() && (peek() == '+' || peek() == '-')) ++i_;
      if (!more() || peek() < '0' || peek() > '9') bad("digit expected in exponent");
      while (more() && peek() >= '0' && peek() <= '9') ++i_;
    }
    v.str.assign(p_ + start, i_ - start);
    v.is_uint = !neg && !frac && !overflow;
    v.u = v.is_uint ? u : 0;
  }

  const char* p_;
  size_t n_, i_ = 0;
  const char* what_;
  int max_depth_;
  size_t count_ = 0;
  static constexpr size_t kMaxValues = (size_t)1 << 20;  // caps memory on hostile input (~100 MB)
};
}  // namespace

Value parse(const char* p, size_t n, const char* what, int max_depth) { return Reader(p, n, what, max_depth).document(); }

}  // namespace json
}  // namespace engram
