// A small command-line parser: "--name value", "--name=value" and boolean "--flag" options,
// each declared with its help text; unknown options and bad values are InvalidArgument errors.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace stagefence::cli {

class Args {
 public:
  // Declares an option taking a value (`metavar` names it in the help) or a flag.
  void option(const std::string& name, const std::string& metavar, const std::string& help,
              const std::string& default_text = "");
  void flag(const std::string& name, const std::string& help);

  // Parses argv-style words; throws InvalidArgument naming the offending word.
  void parse(const std::vector<std::string>& words);

  bool has(const std::string& name) const;
  std::string get(const std::string& name, const std::string& def) const;
  int64_t get_int(const std::string& name, int64_t def, int64_t lo, int64_t hi) const;
  double get_double(const std::string& name, double def) const;
  std::vector<int32_t> get_int_list(const std::string& name) const;  // "1,2,3"

  std::string help() const;

 private:
  struct Spec {
    std::string name, metavar, help, default_text;
    bool is_flag = false;
  };
  const Spec& spec(const std::string& name) const;

  std::vector<Spec> specs_;
  std::map<std::string, std::string> values_;
};

}  // namespace stagefence::cli
