#include "test_support.hpp"

#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "variant_backend.hpp"

namespace sftest {

std::optional<sf::Device> try_open(sf::BackendKind kind) {
  try {
    sf::DeviceOptions o;
    o.backend = kind;
    return sf::Device::open(o);
  } catch (const sf::Error& e) {
    if (e.code() == sf::ErrorCode::Unsupported) return std::nullopt;
    throw;
  }
}

void BackendTest::SetUp() {
  register_test_kernels();
  dev_ = try_open(GetParam());
  if (!dev_) GTEST_SKIP() << "no " << sf::backend_name(GetParam()) << " device on this machine";
}

std::string backend_param_name(const ::testing::TestParamInfo<sf::BackendKind>& info) {
  std::string name = sf::backend_name(info.param);
  for (char& c : name)
    if (c == '-') c = '_';  // test names take letters, digits and underscores
  return name;
}

std::vector<sf::BackendKind> contract_backends() {
  register_variant_backend();
  return {sf::BackendKind::Cpu, sf::BackendKind::Cuda, kVariantBackend};
}

sf::Buffer make_f32(sf::Device& dev, const std::vector<float>& values) {
  auto b = dev.alloc(sf::DType::F32, {static_cast<int64_t>(values.size())});
  b.upload(values);
  return b;
}

std::vector<float> read_f32(const sf::Buffer& b) {
  return b.to_vector<float>();
}

uint64_t f32_count(const sf::Buffer& b) {
  return b.size() / sizeof(float);
}

void fill(sf::CommandEncoder& enc, const sf::Buffer& out, float value) {
  enc.dispatch("fill_f32", {sf::writes(out)}, {f32_count(out), value});
}

void add(sf::CommandEncoder& enc, const sf::Buffer& a, const sf::Buffer& b, const sf::Buffer& out) {
  enc.dispatch("add_f32", {sf::reads(a), sf::reads(b), sf::writes(out)}, {f32_count(out)});
}

void mul(sf::CommandEncoder& enc, const sf::Buffer& a, const sf::Buffer& b, const sf::Buffer& out) {
  enc.dispatch("mul_f32", {sf::reads(a), sf::reads(b), sf::writes(out)}, {f32_count(out)});
}

namespace {

struct Rendezvous {
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, uint64_t> arrived;
};

Rendezvous& rendezvous() {
  static Rendezvous r;
  return r;
}

void rendezvous_kernel(const sf::KernelArgs& a, const sf::Launch&, uint64_t, uint64_t) {
  auto& r = rendezvous();
  std::unique_lock<std::mutex> lock(r.mu);
  const uint64_t key = a.s[0], parties = a.s[1];
  ++r.arrived[key];
  r.cv.notify_all();
  if (!r.cv.wait_for(lock, std::chrono::seconds(5), [&] { return r.arrived[key] >= parties; }))
    throw std::runtime_error("rendezvous " + std::to_string(key) +
                             " timed out: dispatches did not overlap");
  *a.p<int32_t>(0) = 1;
}

void stamp_kernel(const sf::KernelArgs& a, const sf::Launch&, uint64_t, uint64_t) {
  auto now = [] {
    return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::steady_clock::now().time_since_epoch())
                                    .count());
  };
  int64_t* out = a.p<int64_t>(0);
  out[0] = now();
  std::this_thread::sleep_for(std::chrono::microseconds(a.s[0]));
  out[1] = now();
}

}  // namespace

void register_test_kernels() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto& r = sf::KernelRegistry::global();
    r.add_cpu("test.rendezvous", rendezvous_kernel);
    r.add_cpu("test.stamp", stamp_kernel);
  });
}

}  // namespace sftest
