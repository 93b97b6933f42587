// A small strict JSON reader for the tests: parses a document into a tree, and throws
// std::runtime_error with the byte offset on anything that is not valid JSON.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sftest {

struct JsonValue {
  enum class Kind { Null, Bool, Number, String, Array, Object };
  Kind kind = Kind::Null;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<JsonValue> array;
  std::map<std::string, JsonValue> object;

  bool is_null() const { return kind == Kind::Null; }
  bool has(const std::string& key) const { return kind == Kind::Object && object.count(key) > 0; }
  // Member access; throws std::runtime_error naming the key when it is missing or not an object.
  const JsonValue& at(const std::string& key) const;
  const std::string& str() const;  // throws unless a string
  double num() const;              // throws unless a number
};

JsonValue parse_json(std::string_view text);

}  // namespace sftest
