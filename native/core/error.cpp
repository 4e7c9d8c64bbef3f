#include "engram/error.h"

namespace engram {

const char* error_code_name(ErrorCode c) {
  switch (c) {
#define ENGRAM_X(id, str) \
  case ErrorCode::E_##id:     \
    return str;
    ENGRAM_ERROR_CODES(ENGRAM_X)
#undef ENGRAM_X
  }
  return "E_INTERNAL";
}

}  // namespace engram
