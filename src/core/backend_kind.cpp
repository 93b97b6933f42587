#include "stagefence/backend_kind.hpp"

#include <string>

#include "stagefence/error.hpp"

namespace stagefence {

std::optional<BackendKind> parse_backend(std::string_view text, std::string_view what) {
  if (text == "auto") return std::nullopt;
  for (BackendKind k : {BackendKind::Cpu, BackendKind::Cuda})
    if (text == backend_name(k)) return k;
  raise(ErrorCode::InvalidArgument,
        std::string(what) + " '" + std::string(text) + "': expected " + backend_choices());
}

const char* backend_choices() {
  return "auto, cpu or cuda";
}

}  // namespace stagefence
