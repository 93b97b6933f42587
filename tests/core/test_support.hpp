// Shared helpers for the runtime contract tests: a fixture parameterised over backends (CUDA
// cases skip cleanly without a GPU) and a few test-only kernels registered through the public
// kernel-registration API.
#pragma once
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "stagefence/stagefence.hpp"

namespace sf = stagefence;

namespace sftest {

// Opens the requested backend or returns nothing when this machine cannot run it.
std::optional<sf::Device> try_open(sf::BackendKind kind);

class BackendTest : public ::testing::TestWithParam<sf::BackendKind> {
 protected:
  void SetUp() override;
  sf::Device& dev() { return *dev_; }
  // A host backend: the CPU one or the test-only variant of it.
  bool is_cpu() const { return GetParam() != sf::BackendKind::Cuda; }
  std::optional<sf::Device> dev_;
};

std::string backend_param_name(const ::testing::TestParamInfo<sf::BackendKind>& info);

// The backends the runtime contract runs on: CPU, CUDA and the test-only variant
// (variant_backend.hpp), which this registers.
std::vector<sf::BackendKind> contract_backends();

#define SF_INSTANTIATE_BACKENDS(Suite)                                                        \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite, ::testing::ValuesIn(sftest::contract_backends()), \
                           sftest::backend_param_name)

// Buffer helpers.
sf::Buffer make_f32(sf::Device& dev, const std::vector<float>& values);
std::vector<float> read_f32(const sf::Buffer& b);
void fill(sf::CommandEncoder& enc, const sf::Buffer& out, float value);
void add(sf::CommandEncoder& enc, const sf::Buffer& a, const sf::Buffer& b, const sf::Buffer& out);
void mul(sf::CommandEncoder& enc, const sf::Buffer& a, const sf::Buffer& b, const sf::Buffer& out);
uint64_t f32_count(const sf::Buffer& b);

// CPU-only test kernels.
// "test.rendezvous": s0 key, s1 parties; each call blocks until `parties` calls with the same
// key have arrived (or throws after 5 s), then writes 1 into b0 (int32).
// "test.stamp": sleeps s0 microseconds; writes its start and end (steady clock ns) into b0.
void register_test_kernels();

}  // namespace sftest
