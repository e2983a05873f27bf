// A BitLinear layer on Eigen matrices: quantize float weights once, run a batch of tokens, and
// compare with the float layer it replaces. Build: link bitlin::bitlin (see README).
#include <bitlin/bitlin.hpp>

#include <iostream>

int main() {
  using namespace bitlin;
  const index_t tokens = 4, in = 256, out = 64;

  // Latent float weights, as a trained checkpoint would hold them, and a batch of activations.
  const matrix_f W = matrix_f::Random(out, in) * 0.05f;
  const matrix_f X = matrix_f::Random(tokens, in);

  // Ternary weights (absmean, one scale per tensor) and 8-bit per-token activations, with the
  // RMSNorm that precedes BitLinear in BitNet b1.58. Weights are quantized and packed here, once.
  bit_linear<ternary, 8>::options opt;
  opt.norm = norm_kind::rms_norm;
  const auto layer = bit_linear<ternary, 8>::from_float(W, /*bias=*/nullptr, opt);

  const matrix_f Y = layer.forward(X);  // [tokens x out]

  // The float layer it replaces, on the same normalized input.
  matrix_f Xn(tokens, in);
  rms_norm(X, nullptr, opt.norm_eps, Xn);
  const matrix_f Yf = Xn * W.transpose();

  const float cosine = (Y.array() * Yf.array()).sum() / (Y.norm() * Yf.norm());
  const matrix_i8 q = layer.weights();
  const double zeros = (q.array() == 0).cast<double>().mean();
  std::cout << "BitLinear " << in << " -> " << out << ", " << tokens << " tokens\n"
            << "weight bytes: " << layer.weight_bytes() << " packed vs " << W.size() * sizeof(float)
            << " as float\n"
            << "fraction of zero weights: " << zeros << "\n"
            << "scale s = 1/mean|W|: " << layer.scales().values[0] << "\n"
            << "cosine similarity to the float layer: " << cosine << "\n"
            << "y[0, 0..3]: " << Y.row(0).head(4) << "\n";
  // Quantization changes the numbers but must keep the direction of the output.
  return cosine > 0.8f ? 0 : 1;
}
