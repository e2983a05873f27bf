// ISA names, parsing, detection and the selection rule (BITLIN_ISA > set_active_isa > best).
#include <bitlin/gemm/ternary_gemm.hpp>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "catch.hpp"

using namespace bitlin;

TEST_CASE("isa names round trip and unknown names are rejected") {
  for (isa i : all_isas) CHECK(parse_isa(isa_name(i)) == i);
  CHECK_THROWS_AS(parse_isa("avx3"), value_error);
  CHECK_THROWS_AS(parse_isa(""), value_error);
  CHECK_THROWS_AS(parse_isa("AVX2"), value_error);
}

TEST_CASE("set_active_isa and BITLIN_ISA select the path") {
  unsetenv("BITLIN_ISA");
  reset_active_isa();
  CHECK(active_isa() == best_isa());
  for (isa i : supported_isas()) {
    set_active_isa(i);
    CHECK(active_isa() == i);
    CHECK(ternary_gemm_weights(matrix_i8::Zero(2, 2)).target() == i);
  }
  for (isa i : all_isas)
    if (!isa_supported(i)) CHECK_THROWS_AS(set_active_isa(i), value_error);
  reset_active_isa();
  setenv("BITLIN_ISA", "scalar", 1);
  CHECK(active_isa() == isa::scalar);
  set_active_isa(best_isa());
  CHECK(active_isa() == isa::scalar);  // the environment wins over the API
  setenv("BITLIN_ISA", "bogus", 1);
  CHECK_THROWS_AS(active_isa(), value_error);
  for (isa i : all_isas)
    if (!isa_supported(i)) {
      setenv("BITLIN_ISA", isa_name(i), 1);
      CHECK_THROWS_AS(active_isa(), value_error);
    }
  unsetenv("BITLIN_ISA");
  reset_active_isa();
}

TEST_CASE("detection agrees with the lineage and the compiler's own checks") {
  // Each extension implies the one it builds on.
  if (isa_detected(isa::avx512amx)) CHECK(isa_detected(isa::avx512icl));
  if (isa_detected(isa::avx512icl)) CHECK(isa_detected(isa::avx512vnni));
  if (isa_detected(isa::avx512vnni)) CHECK(isa_detected(isa::avx512bw));
  if (isa_detected(isa::avx512bw)) CHECK(isa_detected(isa::avx2));
  if (isa_detected(isa::avx_vnni)) CHECK(isa_detected(isa::avx2));
  if (isa_detected(isa::avx2)) CHECK(isa_detected(isa::sse41));
  if (isa_detected(isa::neon_dotprod)) CHECK(isa_detected(isa::neon));
  // Whatever the compiler was told the target has, the CPU running the test must have.
  CHECK(isa_supported(compile_time_isa()));
  CHECK(isa_supported(isa::scalar));
  for (isa i : all_isas)
    if (!isa_compiled(i)) CHECK_FALSE(isa_supported(i));
#if defined(__x86_64__)
  CHECK(isa_detected(isa::sse41) == static_cast<bool>(__builtin_cpu_supports("sse4.1")));
  CHECK(isa_detected(isa::avx2) ==
        (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")));
  CHECK(isa_detected(isa::avx512bw) ==
        (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")));
  CHECK(isa_detected(isa::avx512vnni) ==
        (isa_detected(isa::avx512bw) && __builtin_cpu_supports("avx512vnni")));
  CHECK(isa_detected(isa::avx512icl) ==
        (isa_detected(isa::avx512vnni) && __builtin_cpu_supports("avx512vpopcntdq") &&
         __builtin_cpu_supports("avx512bitalg")));
  // AMX needs the CPU flags and the kernel's grant; a kernel that does not list the flags never
  // grants the state. (Only this direction: under qemu-user /proc/cpuinfo is the host's.)
  if (std::ifstream cpuinfo("/proc/cpuinfo"); cpuinfo) {
    const std::string all((std::istreambuf_iterator<char>(cpuinfo)),
                          std::istreambuf_iterator<char>());
    if (all.find(" amx_int8") == std::string::npos || all.find(" amx_tile") == std::string::npos)
      CHECK_FALSE(isa_detected(isa::avx512amx));
  }
#endif
}

TEST_CASE("the ISA table is one list: enum, tags, names and kernel tables agree") {
  std::size_t n = 0;
  for_each_arch([&](auto tag, isa i) {
    using Tag = decltype(tag);
    CHECK(static_cast<std::size_t>(i) == n++);
    CHECK(isa_of<Tag>() == i);
    CHECK(std::string(isa_name(i)) == Tag::name);
    CHECK(isa_compiled(i) == Tag::compiled);
  });
  CHECK(n == isa_count);
  CHECK(std::size(all_isas) == isa_count);
  // The kernel a row runs is the row's own or one of its ancestors', never a sibling's.
  for (isa i : supported_isas()) {
    const isa p = gemm_kernel_path<i2_tile>(i);
    CAPTURE(isa_name(i), isa_name(p));
    CHECK(isa_supported(p));
    CHECK(static_cast<int>(p) <= static_cast<int>(i));
  }
  CHECK(gemm_kernel_path<i2_tile>(isa::scalar) == isa::scalar);
}

TEST_CASE("the expected best ISA is detected (set by CI under emulation)") {
  // Under qemu the build exports BITLIN_EXPECT_MAX_ISA, the emulated CPU's best x86 extension:
  // "avx2" (Haswell) must select our avx2 path; "sse2" (qemu64, no SSSE3/SSE4.1) leaves only the
  // scalar path, since our lowest SIMD path needs SSE4.1.
  const char* expect = std::getenv("BITLIN_EXPECT_MAX_ISA");
  if (!expect || !*expect) return;
  const std::string e = expect;
  if (e == "sse2") {
    CHECK(best_isa() == isa::scalar);
    CHECK_FALSE(isa_supported(isa::sse41));
  } else {
    CHECK(std::string(isa_name(best_isa())) == e);
  }
  CHECK_FALSE(isa_supported(isa::avx512bw));  // TCG cannot emulate AVX-512
}
