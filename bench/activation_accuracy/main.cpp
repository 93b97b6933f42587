// What 8-bit activations cost in accuracy: the next-token distributions of one model run with the
// f32-activation path and with the q8 path (the default for block-quantised weights), scored
// position by position over a text both runs are forced through (teacher forcing).
//
//   activation_accuracy --model M.gguf --text FILE [--text FILE ...] [--positions 2000]
//                       [--window 512] [--backend cpu|cuda] [--json out.json]
//
// Per position: whether the two arg-max tokens agree, KL(p_f32 || p_q8) in double precision, and
// each run's negative log-likelihood of the text's real next token (its perplexity).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/gguf/gguf_file.hpp"
#include "model/llama/generator.hpp"
#include "model/llama/model.hpp"
#include "model/model_locator.hpp"
#include "model/tokenizer/gguf_tokenizer_data.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "stagefence/backend_kind.hpp"
#include "stagefence/stagefence.hpp"

namespace {

namespace sf = stagefence;
namespace llama = sf::llama;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read the text file " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// log-softmax of one logits row, in double.
std::vector<double> log_softmax(const float* logits, size_t n) {
  double max = -INFINITY;
  for (size_t i = 0; i < n; ++i) max = std::max(max, double(logits[i]));
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - max);
  const double log_z = max + std::log(sum);
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = double(logits[i]) - log_z;
  return out;
}

size_t arg_max(const float* logits, size_t n) {
  return size_t(std::max_element(logits, logits + n) - logits);
}

// Runs `window` through the generator with each decode step's input forced to the text's next
// token; returns the logits of positions 0..window.size()-2 (row p predicts window[p + 1]).
std::vector<float> forced_logits(llama::Generator& generator, const std::vector<int32_t>& window,
                                 size_t vocab) {
  std::vector<float> rows((window.size() - 1) * vocab);
  llama::GenerateOptions go;
  go.mode = llama::SubmissionMode::Blocking;  // on_token runs before the next step is recorded
  go.max_new_tokens = int(window.size()) - 1;
  go.on_token = [&](int step, int32_t) {
    generator.forward().logits().download(rows.data() + size_t(step) * vocab,
                                          vocab * sizeof(float));
    // The next decode step embeds the token buffer: the text's token, not the sampled one.
    if (size_t(step) + 1 < window.size() - 1)
      generator.forward().token().upload(std::vector<int32_t>{window[size_t(step) + 1]});
  };
  const std::vector<int32_t> first{window[0]};
  generator.generate(first, go);
  return rows;
}

struct Totals {
  int64_t positions = 0, agree = 0;
  double kl = 0, kl_max = 0, nll_f32 = 0, nll_q8 = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"KL divergence and top-1 agreement of q8 against f32 activations"};
  std::string model_path, backend = "cpu", json_path;
  std::vector<std::string> texts;
  int positions = 2000, window = 512;
  app.add_option("--model", model_path, "GGUF file (default: the installed SmolLM2)");
  app.add_option("--text", texts, "text files the runs are forced through")->required();
  app.add_option("--positions", positions, "positions to score")->check(CLI::Range(1, 1 << 20));
  app.add_option("--window", window, "tokens per sequence (each starts with BOS)")
      ->check(CLI::Range(2, 1 << 16));
  app.add_option("--backend", backend, std::string("backend: ") + sf::backend_choices());
  app.add_option("--json", json_path, "write the figures as JSON here");
  CLI11_PARSE(app, argc, argv);

  try {
    const sf::model::ModelLocation where =
        sf::model::locate_model(sf::model::LocatorInputs::from_environment(
            model_path.empty() ? std::nullopt : std::optional<std::string>(model_path)));
    if (!where.path) throw std::runtime_error("no model: " + where.why_none);
    const sf::gguf::GgufFile file = sf::gguf::GgufFile::open(*where.path);
    const sf::tok::Tokenizer tokenizer(sf::tok::tokenizer_data_from_gguf(file));

    std::string text;
    for (const std::string& t : texts) text += read_text(t) + "\n";
    const std::vector<int32_t> ids = tokenizer.encode(text, /*add_special=*/false);
    // Each window starts with BOS where the model's files ask for it (its first position then
    // predicts the window's first text token), else with a text token.
    const bool bos = tokenizer.data().add_bos && tokenizer.data().bos >= 0;
    const size_t text_per_window = size_t(window) - (bos ? 1 : 0);
    const size_t scored_per_window = size_t(window) - 1;
    const size_t windows = (size_t(positions) + scored_per_window - 1) / scored_per_window;
    const size_t stride = bos ? text_per_window : text_per_window - 1;
    const size_t needed = (windows - 1) * stride + text_per_window;
    if (ids.size() < needed)
      throw std::runtime_error("the text has " + std::to_string(ids.size()) + " tokens; " +
                               std::to_string(positions) + " positions in windows of " +
                               std::to_string(window) + " need " + std::to_string(needed));

    sf::DeviceOptions dopt;
    dopt.backend = sf::parse_backend(backend, "--backend");
    sf::Device device = sf::Device::open(dopt);
    const llama::LlamaModel model = llama::load_model(device, file);
    const size_t vocab = size_t(model.config.vocab);
    llama::ForwardOptions fo;
    fo.context = window + 1;
    fo.q8_activations = false;
    llama::Generator f32_run(device, model, fo);
    fo.q8_activations = true;
    llama::Generator q8_run(device, model, fo);

    Totals t;
    for (size_t w = 0; w < windows && t.positions < positions; ++w) {
      // Without BOS, windows overlap by one token, so that every scored target is new.
      std::vector<int32_t> seq;
      if (bos) seq.push_back(tokenizer.data().bos);
      const auto first = ids.begin() + ptrdiff_t(w * stride);
      seq.insert(seq.end(), first, first + ptrdiff_t(text_per_window));
      const std::vector<float> a = forced_logits(f32_run, seq, vocab);
      const std::vector<float> b = forced_logits(q8_run, seq, vocab);
      for (size_t p = 0; p + 1 < seq.size() && t.positions < positions; ++p) {
        const float* la = a.data() + p * vocab;
        const float* lb = b.data() + p * vocab;
        const std::vector<double> pa = log_softmax(la, vocab), pb = log_softmax(lb, vocab);
        double kl = 0;
        for (size_t i = 0; i < vocab; ++i) kl += std::exp(pa[i]) * (pa[i] - pb[i]);
        t.kl += kl;
        t.kl_max = std::max(t.kl_max, kl);
        t.agree += arg_max(la, vocab) == arg_max(lb, vocab);
        const size_t target = size_t(seq[p + 1]);
        t.nll_f32 -= pa[target];
        t.nll_q8 -= pb[target];
        ++t.positions;
      }
      std::fprintf(stderr, "window %zu: %lld positions so far\n", w, (long long)t.positions);
    }

    const double n = double(t.positions);
    const nlohmann::json out = {{"model", where.path->filename().string()},
                                {"backend", backend},
                                {"text_tokens", ids.size()},
                                {"window", window},
                                {"positions", t.positions},
                                {"top1_agreement", double(t.agree) / n},
                                {"mean_kl", t.kl / n},
                                {"max_kl", t.kl_max},
                                {"perplexity_f32", std::exp(t.nll_f32 / n)},
                                {"perplexity_q8", std::exp(t.nll_q8 / n)}};
    std::printf("model %s, backend %s, %lld positions (windows of %d tokens)\n",
                where.path->filename().string().c_str(), backend.c_str(), (long long)t.positions,
                window);
    std::printf("%-16s %-10s %-10s %-14s %-14s\n", "top1_agreement", "mean_kl", "max_kl",
                "perplexity_f32", "perplexity_q8");
    std::printf("%-16.4f %-10.6f %-10.6f %-14.4f %-14.4f\n", double(t.agree) / n, t.kl / n,
                t.kl_max, std::exp(t.nll_f32 / n), std::exp(t.nll_q8 / n));
    if (!json_path.empty()) {
      std::ofstream js(json_path);
      js << out.dump(2) << "\n";
      js.flush();
      if (!js) throw std::runtime_error("could not write " + json_path);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "activation_accuracy: %s\n", e.what());
    return 1;
  }
  return 0;
}
