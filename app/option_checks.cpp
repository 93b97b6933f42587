#include "option_checks.hpp"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "stagefence/backend_kind.hpp"
#include "stagefence/error.hpp"

namespace stagefence::cli {
namespace {

std::string not_allowed(const std::string& value, const std::string& allowed) {
  return "value '" + value + "' is not allowed: expected " + allowed;
}

bool parse_integer(const std::string& s, int64_t& out) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (*end != '\0' || errno != 0) return false;
  out = v;
  return true;
}

std::string format_bound(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

CLI::Validator integer_in(int64_t lo, int64_t hi) {
  const std::string allowed = "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  return CLI::Validator(
      [lo, hi, allowed](std::string& s) -> std::string {
        int64_t v = 0;
        if (!parse_integer(s, v) || v < lo || v > hi) return not_allowed(s, allowed);
        return {};
      },
      "", "integer_in");
}

CLI::Validator number_in(double lo, double hi, bool open_lo, bool open_hi) {
  std::string allowed = "a number in " + std::string(open_lo ? "(" : "[") + format_bound(lo) +
                        ", " + format_bound(hi) + (open_hi ? ")" : "]");
  if (hi == std::numeric_limits<double>::infinity())
    allowed = "a number " + std::string(open_lo ? "> " : ">= ") + format_bound(lo);
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        char* end = nullptr;
        const double v = s.empty() ? NAN : std::strtod(s.c_str(), &end);
        const bool ok = !s.empty() && *end == '\0' && std::isfinite(v) &&
                        (open_lo ? v > lo : v >= lo) && (open_hi ? v < hi : v <= hi);
        return ok ? std::string() : not_allowed(s, allowed);
      },
      "", "number_in");
}

CLI::Validator one_of(std::vector<std::string> words) {
  std::string allowed;
  for (size_t i = 0; i < words.size(); ++i)
    allowed += (i == 0 ? "" : i + 1 == words.size() ? " or " : ", ") + words[i];
  return CLI::Validator(
      [words, allowed](std::string& s) -> std::string {
        for (const std::string& w : words)
          if (s == w) return {};
        return not_allowed(s, allowed);
      },
      "", "one_of");
}

CLI::Validator backend_name_check() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        try {
          (void)parse_backend(s, "--backend");
          return {};
        } catch (const Error&) {
          return not_allowed(s, backend_choices());
        }
      },
      "", "backend");
}

CLI::Validator non_empty(const std::string& what) {
  return CLI::Validator(
      [what](std::string& s) -> std::string { return s.empty() ? not_allowed(s, what) : ""; }, "",
      "non_empty");
}

CLI::Validator token_id_list() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        const std::string allowed = "comma-separated token ids from 0 to " +
                                    std::to_string(std::numeric_limits<int32_t>::max()) +
                                    " such as 1,2,3";
        size_t start = 0, item = 1;
        while (true) {
          const size_t comma = s.find(',', start);
          const std::string part = s.substr(start, comma - start);
          int64_t v = 0;
          if (part.empty())
            return not_allowed(s, allowed + " (item " + std::to_string(item) + " is empty)");
          if (!parse_integer(part, v) || v < 0 || v > std::numeric_limits<int32_t>::max())
            return not_allowed(s,
                               allowed + " (item " + std::to_string(item) + " is '" + part + "')");
          if (comma == std::string::npos) return {};
          start = comma + 1;
          ++item;
        }
      },
      "", "token_id_list");
}

std::vector<int32_t> parse_token_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) ids.push_back(int32_t(std::stoll(item)));
  return ids;
}

}  // namespace stagefence::cli
