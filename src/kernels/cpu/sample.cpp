// "sample" (greedy or temperature / top-k / top-p sampling of one token) and "step_advance".
// Both run as one block: sampling is one small reduction per token.
#include "kernels/params/sample.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/kernel_util.hpp"
#include "kernels/kernel_spec.hpp"

namespace stagefence::kernels::cpu {
namespace {

// NaN logits order below every number, so a NaN never wins and never breaks the ordering.
inline float rank_key(float logit) {
  return std::isnan(logit) ? -std::numeric_limits<float>::infinity() : logit;
}

int32_t greedy_token(const float* logits, int64_t vocab) {
  int64_t best = 0;
  float best_key = rank_key(logits[0]);
  for (int64_t i = 1; i < vocab; ++i) {
    const float key = rank_key(logits[i]);
    if (key > best_key) {  // strict: ties keep the lowest id
      best = i;
      best_key = key;
    }
  }
  return int32_t(best);
}

// The `count` best ids, best first: higher logit first, equal logits by lower id.
void top_candidates(const float* logits, int64_t vocab, int64_t count, std::vector<int32_t>& out) {
  auto ranks_ahead = [logits](int32_t a, int32_t b) {
    const float ka = rank_key(logits[a]), kb = rank_key(logits[b]);
    return ka > kb || (ka == kb && a < b);
  };
  out.clear();
  // A heap whose front is the worst candidate kept so far.
  for (int64_t i = 0; i < vocab; ++i) {
    const int32_t id = int32_t(i);
    if (int64_t(out.size()) < count) {
      out.push_back(id);
      std::push_heap(out.begin(), out.end(), ranks_ahead);
    } else if (ranks_ahead(id, out.front())) {
      std::pop_heap(out.begin(), out.end(), ranks_ahead);
      out.back() = id;
      std::push_heap(out.begin(), out.end(), ranks_ahead);
    }
  }
  std::sort(out.begin(), out.end(), ranks_ahead);
}

void sample(const KernelArgs& args, const Launch&, uint64_t block_begin, uint64_t block_end) {
  if (block_begin > 0 || block_end == 0) return;  // block 0 does the work
  constexpr const char* kName = "sample";
  const SampleParams p = checked_params<SampleParams>(args, kName);
  const int64_t vocab = p.vocab, top_k = p.top_k, max_steps = p.max_steps;
  const float temperature = p.temperature, top_p = p.top_p;
  require_binding(args, 0, uint64_t(vocab) * 4, kName, "logits");
  require_binding(args, 1, 4, kName, "token");
  require_binding(args, 2, 16, kName, "state");
  require_binding(args, 3, uint64_t(max_steps) * 4, kName, "history");

  const float* logits = args.p<const float>(0);
  const uint64_t* state = args.p<const uint64_t>(2);
  const uint64_t seed = state[0], step = state[1];
  int32_t token;
  if (!(temperature > 0.0f)) {
    token = greedy_token(logits, vocab);
  } else {
    const int64_t count =
        std::min<int64_t>({top_k > 0 ? top_k : vocab, vocab, kMaxSampleCandidates});
    thread_local std::vector<int32_t> candidates;
    thread_local std::vector<double> probs;
    top_candidates(logits, vocab, count, candidates);
    // Softmax of logit / temperature over the candidates, in double.
    probs.resize(candidates.size());
    const double max_z = double(rank_key(logits[candidates[0]])) / temperature;
    double sum = 0.0;
    for (size_t i = 0; i < candidates.size(); ++i) {
      probs[i] = std::exp(double(rank_key(logits[candidates[i]])) / temperature - max_z);
      sum += probs[i];
    }
    // Shortest prefix whose mass reaches top_p (never empty).
    size_t kept = candidates.size();
    if (top_p < 1.0f) {
      double mass = 0.0;
      for (size_t i = 0; i < candidates.size(); ++i) {
        mass += probs[i] / sum;
        if (mass >= double(top_p)) {
          kept = i + 1;
          break;
        }
      }
    }
    double total = 0.0;
    for (size_t i = 0; i < kept; ++i) total += probs[i] / sum;
    const double u = sf_uniform(seed, step) * total;
    size_t pick = kept - 1;  // rounding can leave u at the very top: take the last kept
    double cumulative = 0.0;
    for (size_t i = 0; i < kept; ++i) {
      cumulative += probs[i] / sum;
      if (cumulative > u) {
        pick = i;
        break;
      }
    }
    token = candidates[pick];
  }
  args.p<int32_t>(1)[0] = token;
  if (step < uint64_t(max_steps)) args.p<int32_t>(3)[step] = token;
}

void step_advance(const KernelArgs& args, const Launch&, uint64_t block_begin, uint64_t block_end) {
  if (block_begin > 0 || block_end == 0) return;
  require_binding(args, 0, 4, "step_advance", "positions");
  require_binding(args, 1, 16, "step_advance", "state");
  args.p<int32_t>(0)[0] += 1;
  args.p<uint64_t>(1)[1] += 1;
}

Launch single_block(const KernelArgs&) {
  return grid_for(1, 1);
}

}  // namespace

void append_sample_kernels(std::vector<CpuKernel>& out) {
  out.push_back({"sample", sample, single_block});
  out.push_back({"step_advance", step_advance, single_block});
}

}  // namespace stagefence::kernels::cpu
