// Two fenced stages with a kernel of our own, against the installed stagefence package:
//   stage "scale":  y = a * x          (custom CPU kernel "example.scale")
//   stage "offset": z = y + b          (custom CPU kernel "example.offset")
// The second stage waits on the GPU-side fence the first signals; the host waits once, at the
// end. Prints the result check and the counters.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "stagefence/stagefence.hpp"

namespace sf = stagefence;

namespace {

constexpr uint32_t kBlock = 1024;

// Problem size travels in scalar 1; each grid block covers kBlock elements.
sf::Launch blocks_for(const sf::KernelArgs& args) {
  sf::Launch launch;
  launch.grid.x = static_cast<uint32_t>((args.s[1] + kBlock - 1) / kBlock);
  return launch;
}

// b1[i] = b0[i] * s0
void scale(const sf::KernelArgs& args, const sf::Launch&, uint64_t first, uint64_t last) {
  const uint64_t n = args.s[1];
  for (uint64_t i = first * kBlock; i < n && i < last * kBlock; ++i)
    args.p<float>(1)[i] = args.p<const float>(0)[i] * args.f32(0);
}

// b1[i] = b0[i] + s0
void offset(const sf::KernelArgs& args, const sf::Launch&, uint64_t first, uint64_t last) {
  const uint64_t n = args.s[1];
  for (uint64_t i = first * kBlock; i < n && i < last * kBlock; ++i)
    args.p<float>(1)[i] = args.p<const float>(0)[i] + args.f32(0);
}

}  // namespace

int main() {
  try {
    sf::KernelRegistry& kernels = sf::KernelRegistry::global();
    const sf::KernelId scale_id = kernels.add_cpu("example.scale", scale, blocks_for);
    const sf::KernelId offset_id = kernels.add_cpu("example.offset", offset, blocks_for);

    // The custom kernels have CPU implementations only, so ask for the CPU backend.
    auto device = sf::Device::open({sf::BackendKind::Cpu});
    std::printf("device: %s (%s)\n", device.info().name.c_str(),
                device.info().backend_reason.c_str());

    const uint64_t n = 100000;
    const float a = 1.75f, b = -0.5f;
    std::vector<float> x(n);
    std::mt19937 rng(2024);
    std::uniform_real_distribution<float> dist(-4.0f, 4.0f);
    for (float& v : x) v = dist(rng);

    auto xs = device.alloc(sf::DType::F32, {static_cast<int64_t>(n)});
    auto ys = device.alloc(sf::DType::F32, {static_cast<int64_t>(n)});
    auto zs = device.alloc(sf::DType::F32, {static_cast<int64_t>(n)});
    xs.upload(x);
    zs.upload(std::vector<float>(n, NAN));  // anything not written shows up as a mismatch

    sf::counters::reset();
    auto session = device.encoder_session();
    if (!session) {
      std::fprintf(stderr, "encoder sessions are off (STAGEFENCE_ENCODER_SESSION=0)\n");
      return 1;
    }
    session->begin_stage("scale");
    session->dispatch(scale_id, {sf::reads(xs), sf::writes(ys)}, {a, n});
    session->fence_stage();
    session->reset_for_next_stage();  // the next buffer waits for the fence on the device
    session->begin_stage("offset");
    session->dispatch(offset_id, {sf::reads(ys), sf::writes(zs)}, {b, n});
    session->commit_and_wait();

    const std::vector<float> z = zs.to_vector<float>();
    uint64_t wrong = 0;
    for (uint64_t i = 0; i < n; ++i) {
      const double want = static_cast<double>(x[i]) * a + b;
      if (!(std::fabs(z[i] - want) <= 1e-5 * (1.0 + std::fabs(want)))) ++wrong;
    }
    const sf::CounterSnapshot c = sf::counters::snapshot();
    std::printf("fence value %llu, waits encoded %llu\n",
                static_cast<unsigned long long>(session->fence_value()),
                static_cast<unsigned long long>(session->wait_count()));
    std::printf("counters: %s\n", c.to_string().c_str());
    if (wrong != 0 || c.syncs != 1 || c.dispatches != 2 || c.fences_signalled != 1) {
      std::printf("FAILED: %llu of %llu values wrong\n", static_cast<unsigned long long>(wrong),
                  static_cast<unsigned long long>(n));
      return 1;
    }
    std::printf("OK: %llu values match y = %.2f * x + %.2f, one host wait\n",
                static_cast<unsigned long long>(n), a, b);
    return 0;
  } catch (const sf::Error& e) {
    std::fprintf(stderr, "stagefence error: %s\n", e.what());
    return 1;
  }
}
