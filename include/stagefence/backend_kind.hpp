// Backend names as users write them (--backend, STAGEFENCE_BACKEND): the one parser every entry
// point uses, so a new backend is named in one place.
#pragma once
#include <optional>
#include <string_view>

#include "stagefence/kernel.hpp"

namespace stagefence {

// "auto" gives nothing (the device picks); a backend's name gives that backend. Anything else
// throws InvalidArgument naming `what` (the flag or variable), the value and the names allowed.
std::optional<BackendKind> parse_backend(std::string_view text, std::string_view what);

// The names parse_backend accepts, for help texts: "auto, cpu or cuda" (and any backend
// registered since).
const char* backend_choices();

}  // namespace stagefence
