// NCCL reached through dlopen, so one binary runs with or without it. Only the calls stagefence
// makes are resolved; their signatures are NCCL 2's stable C ABI.
#pragma once
#include <cstddef>
#include <string>

namespace stagefence::collective {

struct NcclLibrary {
  using Comm = void*;  // ncclComm_t
  static constexpr int kSuccess = 0;
  static constexpr int kSum = 0;      // ncclSum
  static constexpr int kFloat32 = 7;  // ncclFloat32

  int (*get_version)(int*) = nullptr;
  int (*comm_init_all)(Comm*, int, const int*) = nullptr;
  int (*comm_destroy)(Comm) = nullptr;
  const char* (*get_error_string)(int) = nullptr;
  int (*all_reduce)(const void*, void*, size_t, int, int, Comm, void*) = nullptr;
  int (*all_gather)(const void*, void*, size_t, int, Comm, void*) = nullptr;
  std::string path;
  int version = 0;

  // Loads env::nccl_library() once per process. Null (with the reason in why_not) when the
  // library or one of its symbols is missing.
  static const NcclLibrary* get(std::string* why_not);
  // "ncclAllReduce: unhandled cuda error (...)"; throws nothing.
  std::string describe(const char* call, int result) const;
  std::string version_text() const;
};

}  // namespace stagefence::collective
