// Choosing the next token from logits (greedy, temperature, top-k, top-p) and the generation loop
// over a bitnet_model with its KV cache. The random source is std::mt19937_64 turned into uniform
// doubles by bit manipulation rather than std::uniform_real_distribution, whose output the C++
// standard leaves to the library: a seed gives the same tokens with every compiler.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <random>
#include <vector>

#include "bitlin/core/error.hpp"
#include "bitlin/model/bitnet.hpp"

namespace bitlin::model {

struct sampling_options {
  float temperature = 0.0f;  // 0 = greedy (argmax)
  index_t top_k = 0;         // 0 = no limit
  float top_p = 1.0f;        // nucleus mass in (0, 1]
  std::uint64_t seed = 0;

  void validate() const {
    BITLIN_REQUIRE(std::isfinite(temperature) && temperature >= 0.0f, value_error,
                   "sampling: temperature must be >= 0, got ", temperature);
    BITLIN_REQUIRE(top_k >= 0, value_error, "sampling: top_k must be >= 0, got ", top_k);
    BITLIN_REQUIRE(top_p > 0.0f && top_p <= 1.0f, value_error,
                   "sampling: top_p must be in (0, 1], got ", top_p);
  }
};

// Index of the largest logit; the lowest index wins a tie (as torch.argmax does).
inline index_t argmax(const float* logits, index_t n) {
  BITLIN_REQUIRE(n > 0, value_error, "argmax: empty logits");
  index_t best = 0;
  for (index_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return best;
}

class sampler {
 public:
  explicit sampler(sampling_options o = {}) : opt_(o), rng_(o.seed) { opt_.validate(); }

  const sampling_options& options() const { return opt_; }

  index_t sample(const float* logits, index_t n) {
    BITLIN_REQUIRE(n > 0, value_error, "sampler: empty logits");
    for (index_t i = 0; i < n; ++i)
      BITLIN_REQUIRE(!std::isnan(logits[i]), value_error, "sampler: logit ", i, " is NaN");
    if (opt_.temperature == 0.0f) return argmax(logits, n);
    // Candidates by decreasing logit (index breaks ties, so the order is deterministic).
    std::vector<index_t> idx(static_cast<std::size_t>(n));
    std::iota(idx.begin(), idx.end(), index_t{0});
    const auto by_logit = [&](index_t a, index_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    };
    std::size_t keep = idx.size();
    if (opt_.top_k > 0 && static_cast<std::size_t>(opt_.top_k) < keep) {
      keep = static_cast<std::size_t>(opt_.top_k);
      std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(keep), idx.end(),
                        by_logit);
    } else {
      std::sort(idx.begin(), idx.end(), by_logit);
    }
    idx.resize(keep);
    const double t = opt_.temperature, top = logits[idx.front()];
    std::vector<double> p(keep);
    double sum = 0.0;
    for (std::size_t i = 0; i < keep; ++i) sum += p[i] = std::exp((logits[idx[i]] - top) / t);
    // Nucleus: the smallest prefix whose probability mass reaches top_p.
    if (opt_.top_p < 1.0f) {
      double mass = 0.0;
      std::size_t cut = keep;
      for (std::size_t i = 0; i < keep; ++i) {
        mass += p[i] / sum;
        if (mass >= opt_.top_p) {
          cut = i + 1;
          break;
        }
      }
      p.resize(cut);
      idx.resize(cut);
      sum = std::accumulate(p.begin(), p.end(), 0.0);
    }
    const double u = static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0) * sum;
    double acc = 0.0;
    for (std::size_t i = 0; i < p.size(); ++i) {
      acc += p[i];
      if (u < acc) return idx[i];
    }
    return idx.back();
  }

 private:
  sampling_options opt_;
  std::mt19937_64 rng_;
};

struct generation_stats {
  index_t prompt_tokens = 0, generated_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
  double prefill_tokens_per_second() const {
    return prefill_seconds > 0 ? static_cast<double>(prompt_tokens) / prefill_seconds : 0.0;
  }
  // The first new token comes from the prefill's logits, so decode covers generated - 1 steps.
  double decode_tokens_per_second() const {
    return decode_seconds > 0
               ? static_cast<double>(std::max<index_t>(generated_tokens - 1, 0)) / decode_seconds
               : 0.0;
  }
};

// Prompt followed by up to n_new sampled tokens (stops early at `stop_token` when >= 0, which is
// included). `on_token` sees each new token as it is chosen. With `prompt_logits`, the prefill
// computes and stores the logits of every prompt position ([prompt length, vocab]), even for
// n_new = 0. Model: bitnet_model, or any model with its new_cache() and forward() (the
// tensor-parallel distributed::sharded_bitnet_model).
template <class Model>
std::vector<std::int64_t> generate(const Model& m, const std::vector<std::int64_t>& prompt,
                                   index_t n_new, sampler& s, const executor& ex = serial(),
                                   generation_stats* stats = nullptr, std::int64_t stop_token = -1,
                                   const std::function<void(std::int64_t)>& on_token = {},
                                   matrix_f* prompt_logits = nullptr) {
  BITLIN_REQUIRE(!prompt.empty(), value_error, "generate: the prompt is empty");
  BITLIN_REQUIRE(n_new >= 0, value_error, "generate: negative token count");
  using clock = std::chrono::steady_clock;
  std::vector<std::int64_t> out = prompt;
  generation_stats st;
  st.prompt_tokens = static_cast<index_t>(prompt.size());
  kv_cache cache = m.new_cache();
  cache.reserve(st.prompt_tokens + n_new);
  auto t0 = clock::now();
  matrix_f logits;
  if (prompt_logits) {
    *prompt_logits = m.forward(prompt.data(), st.prompt_tokens, cache, logits_for::all, ex);
    logits = prompt_logits->bottomRows(1);
  } else if (n_new > 0) {
    logits = m.forward(prompt.data(), st.prompt_tokens, cache, logits_for::last, ex);
  }
  st.prefill_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  if (n_new == 0) {
    if (stats) *stats = st;
    return out;
  }
  t0 = clock::now();
  for (index_t i = 0; i < n_new; ++i) {
    const auto next = static_cast<std::int64_t>(s.sample(logits.data(), logits.cols()));
    out.push_back(next);
    ++st.generated_tokens;
    if (on_token) on_token(next);
    if (next == stop_token || i + 1 == n_new) break;
    logits = m.forward(&next, 1, cache, logits_for::last, ex);
  }
  st.decode_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  if (stats) *stats = st;
  return out;
}

}  // namespace bitlin::model
