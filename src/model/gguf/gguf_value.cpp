#include "model/gguf/gguf_value.hpp"

#include <cstdint>

namespace stagefence::gguf {

bool is_known_value_type(uint32_t id) {
  return id <= uint32_t(ValueType::F64);
}

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::U8:
      return "u8";
    case ValueType::I8:
      return "i8";
    case ValueType::U16:
      return "u16";
    case ValueType::I16:
      return "i16";
    case ValueType::U32:
      return "u32";
    case ValueType::I32:
      return "i32";
    case ValueType::F32:
      return "f32";
    case ValueType::Bool:
      return "bool";
    case ValueType::String:
      return "string";
    case ValueType::Array:
      return "array";
    case ValueType::U64:
      return "u64";
    case ValueType::I64:
      return "i64";
    case ValueType::F64:
      return "f64";
  }
  return "unknown";
}

ValueType Value::type() const {
  return std::visit(
      [](const auto& v) {
        using V = std::decay_t<decltype(v)>;
        if constexpr (Element<V>) {
          return ValueTypeOf<V>::value;
        } else {
          return ValueType::Array;
        }
      },
      storage_);
}

ValueType Value::element_type() const {
  return std::visit(
      [](const auto& v) {
        using V = std::decay_t<decltype(v)>;
        if constexpr (Element<V>) {
          return ValueTypeOf<V>::value;
        } else {
          return ValueTypeOf<typename V::value_type>::value;
        }
      },
      storage_);
}

uint64_t Value::array_size() const {
  return std::visit(
      [](const auto& v) -> uint64_t {
        using V = std::decay_t<decltype(v)>;
        if constexpr (Element<V>) {
          return 1;
        } else {
          return v.size();
        }
      },
      storage_);
}

std::string Value::type_name() const {
  return std::visit([](const auto& v) { return type_name_of<std::decay_t<decltype(v)>>(); },
                    storage_);
}

}  // namespace stagefence::gguf
