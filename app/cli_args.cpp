#include "cli_args.hpp"

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "stagefence/error.hpp"

namespace stagefence::cli {

void Args::option(const std::string& name, const std::string& metavar, const std::string& help,
                  const std::string& default_text) {
  specs_.push_back({name, metavar, help, default_text, false});
}

void Args::flag(const std::string& name, const std::string& help) {
  specs_.push_back({name, "", help, "", true});
}

const Args::Spec& Args::spec(const std::string& name) const {
  for (const Spec& s : specs_)
    if (s.name == name) return s;
  raise(ErrorCode::InvalidArgument, "unknown option --" + name + " (see --help)");
}

void Args::parse(const std::vector<std::string>& words) {
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w.rfind("--", 0) != 0 || w.size() == 2)
      raise(ErrorCode::InvalidArgument, "unexpected argument '" + w + "' (see --help)");
    std::string name = w.substr(2), value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const Spec& s = spec(name);
    if (s.is_flag) {
      if (inline_value) raise(ErrorCode::InvalidArgument, "--" + name + " takes no value");
      value = "1";
    } else if (!inline_value) {
      if (i + 1 >= words.size())
        raise(ErrorCode::InvalidArgument, "--" + name + " needs a value " + s.metavar);
      value = words[++i];
    }
    values_[name] = value;
  }
}

bool Args::has(const std::string& name) const {
  return values_.count(name) > 0;
}

std::string Args::get(const std::string& name, const std::string& def) const {
  spec(name);
  const auto it = values_.find(name);
  return it == values_.end() ? def : it->second;
}

int64_t Args::get_int(const std::string& name, int64_t def, int64_t lo, int64_t hi) const {
  if (!has(name)) return def;
  const std::string v = get(name, "");
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || x < lo || x > hi)
    raise(ErrorCode::InvalidArgument, "--" + name + " = '" + v + "': expected an integer in [" +
                                          std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}

double Args::get_double(const std::string& name, double def) const {
  if (!has(name)) return def;
  const std::string v = get(name, "");
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0')
    raise(ErrorCode::InvalidArgument, "--" + name + " = '" + v + "': expected a number");
  return x;
}

std::vector<int32_t> Args::get_int_list(const std::string& name) const {
  std::vector<int32_t> out;
  const std::string v = get(name, "");
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    errno = 0;
    const long x = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || errno != 0 || x < 0 || x > INT32_MAX)
      raise(ErrorCode::InvalidArgument,
            "--" + name + ": '" + item + "' is not a token id (expected e.g. 1,2,3)");
    out.push_back(int32_t(x));
  }
  if (out.empty()) raise(ErrorCode::InvalidArgument, "--" + name + " is empty");
  return out;
}

std::string Args::help() const {
  std::ostringstream os;
  for (const Spec& s : specs_) {
    std::string left = "  --" + s.name + (s.is_flag ? "" : " " + s.metavar);
    if (left.size() < 28)
      left.resize(28, ' ');
    else
      left += "\n" + std::string(28, ' ');
    os << left << s.help;
    if (!s.default_text.empty()) os << " (default: " << s.default_text << ")";
    os << "\n";
  }
  return os.str();
}

}  // namespace stagefence::cli
