// The arithmetic-energy model of the BitNet paper: counts the additions and multiplications of an
// [m x n] by [n x p] product and prices them with per-operation energies. Full precision costs
// m(n-1)p additions and mnp multiplications; BitNet keeps the m(n-1)p additions (in integer) and
// needs multiplications only to rescale: mp for the outputs and mn for quantizing the inputs.
//
// Energies per operation (picojoules) are the figures the BitNet paper tabulates, which go back to
// M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014 (45 nm), and
// the 7 nm process figures the paper lists beside them.
#pragma once

#include <cstdint>

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"

namespace bitlin {

struct op_energy_pj {
  double int8_add, int8_mul, fp16_add, fp16_mul, fp32_add, fp32_mul;
};

inline constexpr op_energy_pj energy_45nm{0.03, 0.2, 0.4, 1.1, 0.9, 3.7};
inline constexpr op_energy_pj energy_7nm{0.007, 0.07, 0.16, 0.34, 0.38, 1.31};

enum class float_precision { fp16, fp32 };

struct op_counts {
  double additions = 0, multiplications = 0;
};

struct energy_estimate {
  op_counts full_precision, bitnet;
  double full_precision_pj = 0, bitnet_pj = 0;
  double ratio() const { return bitnet_pj > 0 ? full_precision_pj / bitnet_pj : 0.0; }
};

inline op_counts full_precision_ops(index_t m, index_t n, index_t p) {
  BITLIN_REQUIRE(m >= 0 && n >= 1 && p >= 0, shape_error,
                 "full_precision_ops: need m, p >= 0 and n >= 1");
  return {static_cast<double>(m) * static_cast<double>(n - 1) * static_cast<double>(p),
          static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(p)};
}

inline op_counts bitnet_ops(index_t m, index_t n, index_t p) {
  BITLIN_REQUIRE(m >= 0 && n >= 1 && p >= 0, shape_error, "bitnet_ops: need m, p >= 0 and n >= 1");
  return {static_cast<double>(m) * static_cast<double>(n - 1) * static_cast<double>(p),
          static_cast<double>(m) * static_cast<double>(p) +
              static_cast<double>(m) * static_cast<double>(n)};
}

// Baseline in `precision`; BitNet's additions in int8 and its rescaling multiplications in the
// same float precision as the baseline.
inline energy_estimate estimate_energy(index_t m, index_t n, index_t p,
                                       float_precision precision = float_precision::fp16,
                                       const op_energy_pj& e = energy_7nm) {
  energy_estimate r;
  r.full_precision = full_precision_ops(m, n, p);
  r.bitnet = bitnet_ops(m, n, p);
  const double fadd = precision == float_precision::fp16 ? e.fp16_add : e.fp32_add;
  const double fmul = precision == float_precision::fp16 ? e.fp16_mul : e.fp32_mul;
  r.full_precision_pj = r.full_precision.additions * fadd + r.full_precision.multiplications * fmul;
  r.bitnet_pj = r.bitnet.additions * e.int8_add + r.bitnet.multiplications * fmul;
  return r;
}

}  // namespace bitlin
