// CLI11 validators whose errors name the value and what is allowed (CLI11 prefixes the flag):
// "--top-p: value '2' is not allowed: expected a number in (0, 1]". They run while the command
// line is parsed, before any device opens.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace stagefence::cli {

// An integer in [lo, hi].
CLI::Validator integer_in(int64_t lo, int64_t hi);
// A finite number in the range; `open_lo`/`open_hi` exclude the bound itself.
CLI::Validator number_in(double lo, double hi, bool open_lo = false, bool open_hi = false);
// One of the listed words.
CLI::Validator one_of(std::vector<std::string> words);
// A registered backend's name or auto (parse_backend).
CLI::Validator backend_name_check();
// A non-empty path (an empty --model or --trace is an error, not "unset").
CLI::Validator non_empty(const std::string& what);
// Comma-separated token ids: "1,2,3", no empty items.
CLI::Validator token_id_list();

// The ids of a string that token_id_list() accepted.
std::vector<int32_t> parse_token_ids(const std::string& text);

}  // namespace stagefence::cli
