#include "stagefence/dtype.hpp"

#include <array>
#include <cstdint>
#include <string>

#include "stagefence/error.hpp"

namespace stagefence {
namespace {

constexpr std::array<DTypeInfo, 21> kTypes = {{
    {DType::F32, "f32", 1, 4},       {DType::F16, "f16", 1, 2},
    {DType::Q4_0, "q4_0", 32, 18},   {DType::Q4_1, "q4_1", 32, 20},
    {DType::Q5_0, "q5_0", 32, 22},   {DType::Q5_1, "q5_1", 32, 24},
    {DType::Q8_0, "q8_0", 32, 34},   {DType::Q8_1, "q8_1", 32, 36},
    {DType::Q2_K, "q2_k", 256, 84},  {DType::Q3_K, "q3_k", 256, 110},
    {DType::Q4_K, "q4_k", 256, 144}, {DType::Q5_K, "q5_k", 256, 176},
    {DType::Q6_K, "q6_k", 256, 210}, {DType::Q8_K, "q8_k", 256, 292},
    {DType::I8, "i8", 1, 1},         {DType::I16, "i16", 1, 2},
    {DType::I32, "i32", 1, 4},       {DType::I64, "i64", 1, 8},
    {DType::F64, "f64", 1, 8},       {DType::BF16, "bf16", 1, 2},
    {DType::U8, "u8", 1, 1},
}};
constexpr DTypeInfo kU32 = {DType::U32, "u32", 1, 4};

}  // namespace

const DTypeInfo* dtype_info(DType t) {
  if (t == DType::U32) return &kU32;
  for (const auto& info : kTypes)
    if (info.type == t) return &info;
  return nullptr;
}

const DTypeInfo* dtype_info_from_id(uint32_t ggml_id) {
  if (ggml_id >= 1000) return nullptr;  // stagefence-only ids never come from a file
  return dtype_info(static_cast<DType>(ggml_id));
}

std::string_view dtype_name(DType t) {
  const DTypeInfo* info = dtype_info(t);
  return info ? info->name : std::string_view("unknown");
}

uint64_t dtype_bytes(DType t, uint64_t elems) {
  const DTypeInfo* info = dtype_info(t);
  if (!info) raise(ErrorCode::InvalidArgument, "unknown dtype id " + std::to_string(uint32_t(t)));
  if (elems % info->block_elems != 0)
    raise(ErrorCode::InvalidArgument, std::to_string(elems) + " elements of " +
                                          std::string(info->name) + " are not whole blocks of " +
                                          std::to_string(info->block_elems));
  return elems / info->block_elems * info->block_bytes;
}

}  // namespace stagefence
