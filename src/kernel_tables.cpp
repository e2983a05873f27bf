// The one definition of every kernel table, for programs built with BITLIN_PREBUILT_KERNELS (the
// CMake target bitlin::kernels): the kernels of every ISA are compiled here once instead of in each
// translation unit that uses an op (kernels/dispatch.hpp says why).
#define BITLIN_KERNEL_TABLES_DEFINE

#include "bitlin/gemm/driver.hpp"
#include "bitlin/kernels/hamming/kernels.hpp"
#include "bitlin/kernels/layouts.hpp"
#include "bitlin/layers/attention.hpp"
#include "bitlin/layers/dense_linear.hpp"
#include "bitlin/layers/int8_linear.hpp"
#include "bitlin/layers/relu2_gate.hpp"
#include "bitlin/norm/norm.hpp"
#include "bitlin/quant/act_quant.hpp"

namespace bitlin::detail {
namespace {

// The GEMM table of every listed layout, instantiated in this file.
template <class... L>
constexpr std::array<const kernel_entry<kernel_fn>& (*)(isa), sizeof...(L)> gemm_tables(
    type_list<L...>) {
  return {&gemm_kernel_of<L>...};
}
template <class... L>
constexpr std::array<const kernel_entry<kernel_fn>& (*)(isa), sizeof...(L)> lut_gemm_tables(
    type_list<L...>) {
  return {&lut_gemm_kernel_of<L>...};
}

}  // namespace

// Referenced from outside the anonymous namespace so the instantiations are emitted.
extern const auto bitlin_gemm_kernel_tables = gemm_tables(all_kernel_layouts{});
extern const auto bitlin_lut_gemm_kernel_tables = lut_gemm_tables(all_kernel_layouts{});

}  // namespace bitlin::detail
