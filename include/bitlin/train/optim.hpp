// Training state for the latent fp32 weights: AdamW (decoupled weight decay, PyTorch's update
// order), gradient clipping by global norm, a warm-up + cosine-decay learning rate, and BitNet's
// two-stage recipe (BitNet b1.58 2B4T: halfway through, the learning rate drops and weight decay
// goes to zero). Everything is plain float arithmetic in a fixed order, so a run is reproducible
// bit for bit, and the whole state (weights, moments, step) is what a checkpoint stores.
#pragma once

#include <cmath>
#include <cstdint>

#include "bitlin/core/error.hpp"
#include "bitlin/train/model.hpp"

namespace bitlin::train {

struct optimizer_options {
  float lr = 3e-3f;
  float beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f;
  float weight_decay = 0.1f;
  float clip_norm = 1.0f;     // <= 0: no clipping
  index_t warmup_steps = 20;  // linear warm-up from lr / warmup_steps
  index_t total_steps = 300;  // cosine decay to min_lr_ratio * lr at total_steps
  float min_lr_ratio = 0.1f;
  bool two_stage = false;  // BitNet's recipe: second half with lr * stage2_lr_ratio, wd 0
  float stage2_lr_ratio = 0.5f;

  void validate() const {
    BITLIN_REQUIRE(std::isfinite(lr) && lr > 0.0f, value_error, "optimizer: lr must be > 0, got ",
                   lr);
    BITLIN_REQUIRE(beta1 >= 0.0f && beta1 < 1.0f && beta2 >= 0.0f && beta2 < 1.0f, value_error,
                   "optimizer: betas must be in [0, 1)");
    BITLIN_REQUIRE(eps > 0.0f && weight_decay >= 0.0f, value_error,
                   "optimizer: eps must be > 0 and weight decay >= 0");
    BITLIN_REQUIRE(warmup_steps >= 0 && total_steps >= 0, value_error,
                   "optimizer: step counts must be >= 0");
  }

  bool in_stage2(index_t step) const { return two_stage && step >= total_steps / 2; }

  // Learning rate of update number `step` (0-based).
  float lr_at(index_t step) const {
    double f = 1.0;
    if (warmup_steps > 0 && step < warmup_steps)
      f = static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
    else if (total_steps > warmup_steps) {
      const double t = std::min(1.0, static_cast<double>(step - warmup_steps) /
                                         static_cast<double>(total_steps - warmup_steps));
      f = min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + std::cos(3.141592653589793 * t));
    }
    if (in_stage2(step)) f *= stage2_lr_ratio;
    return static_cast<float>(static_cast<double>(lr) * f);
  }
  float weight_decay_at(index_t step) const { return in_stage2(step) ? 0.0f : weight_decay; }
};

// Global L2 norm of all gradients (summed in double, in parameter order).
inline double global_norm(const model_params<float>& g) {
  double ss = 0.0;
  g.visit([&](const std::string&, const matrix_f& t, bool) {
    for (index_t i = 0; i < t.size(); ++i)
      ss += static_cast<double>(t.data()[i]) * static_cast<double>(t.data()[i]);
  });
  return std::sqrt(ss);
}

struct adamw_state {
  model_params<float> m, v;
  index_t step = 0;  // updates applied so far
};

inline adamw_state make_adamw_state(const model_params<float>& p) {
  return adamw_state{p.zeros_like(), p.zeros_like(), 0};
}

struct step_report {
  float lr = 0.0f;
  double grad_norm = 0.0;  // before clipping
};

// One AdamW update of p from gradients g (scaled down to clip_norm first when larger).
inline step_report adamw_step(model_params<float>& p, const model_params<float>& g, adamw_state& st,
                              const optimizer_options& o) {
  step_report rep;
  rep.grad_norm = global_norm(g);
  BITLIN_REQUIRE(std::isfinite(rep.grad_norm), value_error, "step ", st.step + 1,
                 ": the gradient norm is ", rep.grad_norm);
  const float clip = o.clip_norm > 0.0f && rep.grad_norm > o.clip_norm
                         ? static_cast<float>(o.clip_norm / rep.grad_norm)
                         : 1.0f;
  rep.lr = o.lr_at(st.step);
  const float wd = o.weight_decay_at(st.step);
  st.step += 1;
  const auto t = static_cast<double>(st.step);
  const auto bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(o.beta1), t));
  const auto bc2 = static_cast<float>(1.0 - std::pow(static_cast<double>(o.beta2), t));
  std::vector<const matrix_f*> gs;
  std::vector<matrix_f*> ms, vs;
  g.visit([&](const std::string&, const matrix_f& x, bool) { gs.push_back(&x); });
  st.m.visit([&](const std::string&, matrix_f& x, bool) { ms.push_back(&x); });
  st.v.visit([&](const std::string&, matrix_f& x, bool) { vs.push_back(&x); });
  std::size_t k = 0;
  p.visit([&](const std::string&, matrix_f& w, bool decays) {
    float* W = w.data();
    const float* G = gs[k]->data();
    float* M = ms[k]->data();
    float* V = vs[k]->data();
    ++k;
    const float shrink = decays ? 1.0f - rep.lr * wd : 1.0f;
    for (index_t i = 0; i < w.size(); ++i) {
      const float gi = G[i] * clip;
      M[i] = o.beta1 * M[i] + (1.0f - o.beta1) * gi;
      V[i] = o.beta2 * V[i] + (1.0f - o.beta2) * gi * gi;
      const float mhat = M[i] / bc1, vhat = V[i] / bc2;
      W[i] = W[i] * shrink - rep.lr * mhat / (std::sqrt(vhat) + o.eps);
    }
  });
  return rep;
}

}  // namespace bitlin::train
