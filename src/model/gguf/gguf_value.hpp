// A GGUF metadata value: one scalar, a string, or an array of scalars or strings.
#pragma once
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace stagefence::gguf {

// Value type ids as stored in the file.
enum class ValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};

bool is_known_value_type(uint32_t id);
// "u32", "string", ...; "unknown" for ids outside the enum.
std::string_view value_type_name(ValueType t);

// Maps each C++ element type to its GGUF value type; only these types can be stored.
template <typename T>
struct ValueTypeOf;
template <>
struct ValueTypeOf<uint8_t> {
  static constexpr ValueType value = ValueType::U8;
};
template <>
struct ValueTypeOf<int8_t> {
  static constexpr ValueType value = ValueType::I8;
};
template <>
struct ValueTypeOf<uint16_t> {
  static constexpr ValueType value = ValueType::U16;
};
template <>
struct ValueTypeOf<int16_t> {
  static constexpr ValueType value = ValueType::I16;
};
template <>
struct ValueTypeOf<uint32_t> {
  static constexpr ValueType value = ValueType::U32;
};
template <>
struct ValueTypeOf<int32_t> {
  static constexpr ValueType value = ValueType::I32;
};
template <>
struct ValueTypeOf<float> {
  static constexpr ValueType value = ValueType::F32;
};
template <>
struct ValueTypeOf<bool> {
  static constexpr ValueType value = ValueType::Bool;
};
template <>
struct ValueTypeOf<std::string> {
  static constexpr ValueType value = ValueType::String;
};
template <>
struct ValueTypeOf<uint64_t> {
  static constexpr ValueType value = ValueType::U64;
};
template <>
struct ValueTypeOf<int64_t> {
  static constexpr ValueType value = ValueType::I64;
};
template <>
struct ValueTypeOf<double> {
  static constexpr ValueType value = ValueType::F64;
};

// A type that can be a scalar value or an array element.
template <typename T>
concept Element = requires {
  ValueTypeOf<T>::value;
};

template <typename T>
struct IsElementVector : std::false_type {};
template <Element E>
struct IsElementVector<std::vector<E>> : std::true_type {};

// A type a Value can hold: an element, or a vector of elements (an array).
template <typename T>
concept Storable = Element<T> || IsElementVector<T>::value;

// Names a storable C++ type the way error messages name file values: "u32", "array[string]".
template <Storable T>
std::string type_name_of() {
  if constexpr (Element<T>) {
    return std::string(value_type_name(ValueTypeOf<T>::value));
  } else {
    return "array[" + std::string(value_type_name(ValueTypeOf<typename T::value_type>::value)) +
           "]";
  }
}

class Value {
 public:
  using Storage = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool,
                               std::string, uint64_t, int64_t, double, std::vector<uint8_t>,
                               std::vector<int8_t>, std::vector<uint16_t>, std::vector<int16_t>,
                               std::vector<uint32_t>, std::vector<int32_t>, std::vector<float>,
                               std::vector<bool>, std::vector<std::string>, std::vector<uint64_t>,
                               std::vector<int64_t>, std::vector<double>>;

  template <Storable T>
  explicit Value(T v) : storage_(std::move(v)) {}
  explicit Value(const char* s) : storage_(std::string(s)) {}
  explicit Value(std::string_view s) : storage_(std::string(s)) {}

  // ValueType::Array for arrays.
  ValueType type() const;
  bool is_array() const { return type() == ValueType::Array; }
  // The element type of an array; the value's own type for a scalar or string.
  ValueType element_type() const;
  // Number of array elements; 1 for a scalar or string.
  uint64_t array_size() const;
  // "u32", "string", "array[f32]".
  std::string type_name() const;

  // The held value when it is exactly of type T, else nullptr.
  template <Storable T>
  const T* get_if() const {
    return std::get_if<T>(&storage_);
  }
  const Storage& storage() const { return storage_; }

  bool operator==(const Value&) const = default;

 private:
  Storage storage_;
};

}  // namespace stagefence::gguf
