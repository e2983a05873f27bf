// Every backward pass of the trainer against central finite differences in double precision on
// small shapes. The quantized layers are checked against their straight-through surrogate
// (ste_linear.hpp): y~(x, W) = (n(x) + da)(W + dw)^T with da, dw frozen at the point, whose exact
// gradient is what the STE claims to compute.
#include <cmath>
#include <functional>
#include <vector>

#include "bitlin/train/model.hpp"
#include "catch.hpp"

using namespace bitlin;
using namespace bitlin::train;
using dmat = tensor<double>;

namespace {

dmat random_matrix(index_t r, index_t c, std::uint64_t seed, double scale = 1.0) {
  train::rng g(seed);
  dmat m(r, c);
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = scale * g.normal();
  return m;
}

double weighted_sum(const dmat& y, const dmat& R) {
  return (y.array() * R.array()).sum();
}

// Largest |analytic - numeric| relative to max(1, |numeric|) over every element of x, with L the
// scalar function of x.
double fd_error(dmat& x, const dmat& analytic, const std::function<double()>& L, double h = 1e-6) {
  REQUIRE(analytic.rows() == x.rows());
  REQUIRE(analytic.cols() == x.cols());
  double worst = 0.0;
  for (index_t i = 0; i < x.size(); ++i) {
    const double keep = x.data()[i];
    x.data()[i] = keep + h;
    const double up = L();
    x.data()[i] = keep - h;
    const double down = L();
    x.data()[i] = keep;
    const double num = (up - down) / (2 * h);
    worst = std::max(worst, std::fabs(analytic.data()[i] - num) / std::max(1.0, std::fabs(num)));
  }
  return worst;
}

}  // namespace

TEST_CASE("rms_norm and layer_norm backward match finite differences", "[train][grad]") {
  const index_t N = 3, K = 7;
  dmat X = random_matrix(N, K, 1), w = random_matrix(1, K, 2), b = random_matrix(1, K, 3);
  const dmat R = random_matrix(N, K, 4);
  const double eps = 1e-5;
  for (bool with_weight : {false, true}) {
    const double* wp = with_weight ? w.data() : nullptr;
    auto L = [&]() {
      dmat Y;
      rms_norm_forward<double>(X, wp, eps, Y);
      return weighted_sum(Y, R);
    };
    dmat dX, dw = dmat::Zero(1, K);
    rms_norm_backward<double>(X, wp, eps, R, dX, with_weight ? dw.data() : nullptr);
    CHECK(fd_error(X, dX, L) < 1e-7);
    if (with_weight) CHECK(fd_error(w, dw, L) < 1e-7);
  }
  for (bool affine : {false, true}) {
    const double* gp = affine ? w.data() : nullptr;
    const double* bp = affine ? b.data() : nullptr;
    auto L = [&]() {
      dmat Y;
      layer_norm_forward<double>(X, gp, bp, eps, Y);
      return weighted_sum(Y, R);
    };
    dmat dX, dg = dmat::Zero(1, K), db = dmat::Zero(1, K);
    layer_norm_backward<double>(X, gp, eps, R, dX, affine ? dg.data() : nullptr,
                                affine ? db.data() : nullptr);
    CHECK(fd_error(X, dX, L) < 1e-7);
    if (affine) {
      CHECK(fd_error(w, dg, L) < 1e-7);
      CHECK(fd_error(b, db, L) < 1e-7);
    }
  }
}

TEST_CASE("RoPE backward is the inverse rotation", "[train][grad]") {
  const index_t T = 5, heads = 2, d = 6;
  dmat X = random_matrix(2 * T, heads * d, 5);
  const dmat R = random_matrix(2 * T, heads * d, 6);
  const rope_table<double> tab(T, d, 10000.0);
  auto L = [&]() {
    dmat Y = X;
    rope_apply(Y, heads, d, tab);
    return weighted_sum(Y, R);
  };
  dmat dX = R;
  rope_apply(dX, heads, d, tab, true);
  CHECK(fd_error(X, dX, L) < 1e-8);
}

TEST_CASE("causal grouped-query attention backward matches finite differences", "[train][grad]") {
  const attention_shape a{2, 5, 4, 2, 4};  // 2 sequences, 5 tokens, 4 query heads on 2 kv heads
  const index_t N = a.seqs * a.tokens;
  dmat q = random_matrix(N, a.heads * a.head_dim, 7),
       k = random_matrix(N, a.kv_heads * a.head_dim, 8),
       v = random_matrix(N, a.kv_heads * a.head_dim, 9);
  const dmat R = random_matrix(N, a.heads * a.head_dim, 10);
  thread_pool pool(2);
  auto L = [&]() {
    dmat out, P;
    attention_forward(q, k, v, a, out, P, serial());
    return weighted_sum(out, R);
  };
  dmat out, P, dq, dk, dv;
  attention_forward(q, k, v, a, out, P, pool);
  attention_backward(q, k, v, a, P, R, dq, dk, dv, pool);
  CHECK(fd_error(q, dq, L) < 1e-7);
  CHECK(fd_error(k, dk, L) < 1e-7);
  CHECK(fd_error(v, dv, L) < 1e-7);
  // Causality: the first token of each sequence attends to itself only.
  dmat out2, P2;
  attention_forward(q, k, v, a, out2, P2, serial());
  CHECK(out2.block(0, 0, 1, a.head_dim).isApprox(v.block(0, 0, 1, a.head_dim), 1e-12));
}

TEST_CASE("relu2 and SiLU gates backward match finite differences", "[train][grad]") {
  dmat g = random_matrix(4, 6, 11), u = random_matrix(4, 6, 12);
  const dmat R = random_matrix(4, 6, 13);
  for (gate_kind kind : {gate_kind::relu2, gate_kind::silu}) {
    auto L = [&]() {
      dmat y;
      gated_forward(g, u, kind, y);
      return weighted_sum(y, R);
    };
    dmat dg, du;
    gated_backward(g, u, kind, R, dg, du);
    CHECK(fd_error(g, dg, L) < 1e-7);
    CHECK(fd_error(u, du, L) < 1e-7);
  }
}

TEST_CASE("cross-entropy backward matches finite differences", "[train][grad]") {
  dmat logits = random_matrix(5, 9, 14, 2.0);
  const std::vector<std::int32_t> y = {0, 8, 3, 3, 5};
  dmat dl;
  const double loss = cross_entropy(logits, y, &dl);
  CHECK(loss > 0.0);
  CHECK(fd_error(logits, dl, [&]() { return cross_entropy<double>(logits, y, nullptr); }) < 1e-8);
  // Uniform logits cost exactly log V per token.
  CHECK(cross_entropy<double>(dmat::Zero(2, 9), {1, 2}, nullptr) == Approx(std::log(9.0)));
  CHECK_THROWS_AS(cross_entropy<double>(logits, {0, 1, 2, 3, 9}, nullptr), value_error);
}

TEST_CASE("float linear backward matches finite differences", "[train][grad]") {
  dmat x = random_matrix(4, 5, 15), W = random_matrix(3, 5, 16);
  const dmat R = random_matrix(4, 3, 17);
  auto L = [&]() {
    dmat y;
    matmul_nt(x, W, y, serial());
    return weighted_sum(y, R);
  };
  dmat dx, dW = dmat::Zero(3, 5);
  linear_backward(x, W, R, &dx, dW, serial());
  CHECK(fd_error(x, dx, L) < 1e-9);
  CHECK(fd_error(W, dW, L) < 1e-9);
}

TEST_CASE("BitLinear STE backward equals the surrogate's finite-difference gradient",
          "[train][grad][ste]") {
  const index_t N = 6, K = 40, M = 24;
  const matrix_f x = random_matrix(N, K, 20).cast<float>();
  const matrix_f W = random_matrix(M, K, 21, 0.05).cast<float>();
  const matrix_f R = random_matrix(N, M, 22).cast<float>();
  thread_pool pool(2);
  for (weight_mode wm : {weight_mode::ternary, weight_mode::binary})
    for (int bits : {8, 4, 2})
      for (norm_kind nk : {norm_kind::none, norm_kind::rms_norm, norm_kind::layer_norm}) {
        CAPTURE(weight_mode_name(wm), bits, static_cast<int>(nk));
        linear_spec spec;
        spec.weights = wm;
        spec.act_bits = bits;
        spec.norm = nk;
        const ste_linear lin(W, spec, pool);
        const prepared_input pin = lin.prepare(x);
        matrix_f y;
        lin.forward(pin, y);
        // The forward is the inference layer's, on the integer kernels.
        matrix_f y_ref;
        if (wm == weight_mode::ternary && bits == 8) {
          bit_linear<ternary, 8>::options o;
          o.norm = nk;
          y_ref = bit_linear<ternary, 8>::from_float(W, nullptr, o).forward(x);
          CHECK(y == y_ref);
        }
        // ... and equals the surrogate's value x^ W^T at the point.
        const matrix_f y_sur = pin.x_hat * lin.w_hat().transpose();
        CHECK((y - y_sur).cwiseAbs().maxCoeff() <= 1e-4f * (1.0f + y_sur.cwiseAbs().maxCoeff()));

        matrix_f dx, dW = matrix_f::Zero(M, K);
        lin.backward(x, pin, R, &dx, dW);

        // The surrogate in double, offsets frozen at the point.
        dmat xd = x.cast<double>(), Wd = W.cast<double>();
        dmat n0;
        if (nk == norm_kind::none)
          n0 = xd;
        else if (nk == norm_kind::rms_norm)
          rms_norm_forward<double>(xd, nullptr, 1e-5, n0);
        else
          layer_norm_forward<double>(xd, nullptr, nullptr, 1e-5, n0);
        const dmat da = pin.x_hat.cast<double>() - n0;
        const dmat dw = lin.w_hat().cast<double>() - Wd;
        const dmat Rd = R.cast<double>();
        auto L = [&]() {
          dmat n;
          if (nk == norm_kind::none)
            n = xd;
          else if (nk == norm_kind::rms_norm)
            rms_norm_forward<double>(xd, nullptr, 1e-5, n);
          else
            layer_norm_forward<double>(xd, nullptr, nullptr, 1e-5, n);
          const dmat ys = (n + da) * (Wd + dw).transpose();
          return weighted_sum(ys, Rd);
        };
        CHECK(fd_error(xd, dx.cast<double>(), L) < 1e-4);
        CHECK(fd_error(Wd, dW.cast<double>(), L) < 1e-4);
        // The latent gradient is the gradient w.r.t. the dequantized weights: dY^T x^.
        const matrix_f expect = R.transpose() * pin.x_hat;
        CHECK((dW - expect).cwiseAbs().maxCoeff() <= 1e-4f * (1.0f + expect.cwiseAbs().maxCoeff()));
      }
}

TEST_CASE("whole model backward (double, full precision) matches finite differences",
          "[train][grad][model]") {
  model_shape m;
  m.vocab = 11;
  m.hidden = 8;
  m.ffn = 12;
  m.layers = 2;
  m.heads = 2;
  m.kv_heads = 1;
  m.context = 6;
  m.weights = weight_mode::full_precision;
  m.init_std = 0.3f;
  for (gate_kind gk : {gate_kind::relu2, gate_kind::silu}) {
    m.gate = gk;
    model_params<double> p = init_params<double>(m, 3);
    // Non-trivial norm gains, so their gradients are exercised away from 1.
    train::rng r(9);
    p.visit([&](const std::string&, dmat& t, bool decays) {
      if (!decays)
        for (index_t i = 0; i < t.size(); ++i) t.data()[i] = 0.5 + r.uniform();
    });
    const std::vector<std::int32_t> windows = {1, 4, 2, 9, 0, 7, 3, 3, 10, 5, 6, 2, 8, 1};
    model_params<double> g = p.zeros_like();
    thread_pool pool(2);
    loss_and_grad(p, m, windows, 2, &g, pool);
    std::vector<dmat*> gp;
    g.visit([&](const std::string&, dmat& t, bool) { gp.push_back(&t); });
    std::size_t i = 0;
    p.visit([&](const std::string& name, dmat& t, bool) {
      CAPTURE(name);
      const double err = fd_error(t, *gp[i++], [&]() {
        return loss_and_grad<double>(p, m, windows, 2, nullptr, serial());
      });
      CHECK(err < 1e-6);
    });
  }
}

TEST_CASE("the float model agrees with the double model in full precision", "[train][model]") {
  model_shape m;
  m.vocab = 13;
  m.hidden = 16;
  m.ffn = 24;
  m.heads = 4;
  m.kv_heads = 2;
  m.context = 8;
  m.weights = weight_mode::full_precision;
  const model_params<float> p = init_params<float>(m, 5);
  const std::vector<std::int32_t> w = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 1, 2, 3, 4, 5};
  model_params<float> gf = p.zeros_like();
  const double lf = loss_and_grad(p, m, w, 2, &gf);
  const model_params<double> pd = p.cast<double>();
  model_params<double> gd = pd.zeros_like();
  const double ld = loss_and_grad(pd, m, w, 2, &gd);
  CHECK(lf == Approx(ld).epsilon(1e-5));
  CHECK((gf.embed.cast<double>() - gd.embed).cwiseAbs().maxCoeff() < 1e-5);
  CHECK((gf.layers[0].q.cast<double>() - gd.layers[0].q).cwiseAbs().maxCoeff() < 1e-5);
}
