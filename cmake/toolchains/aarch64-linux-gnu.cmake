# Cross build for AArch64 Linux with Debian's g++-aarch64-linux-gnu; tests run under
# qemu-aarch64-static through CTest's emulator hook.
#
# bitlin's dependencies (Eigen, xsimd, xtl, nlohmann_json, Catch2) are header-only, so the host's
# /usr packages serve the target as well: packages are searched both inside the AArch64 sysroot and
# on the host, while libraries must come from the sysroot. Debian installs xsimd's config under
# the x86-64 multiarch directory, which a cross build does not search; we point at it directly.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(BITLIN_AARCH64_TRIPLE aarch64-linux-gnu)
set(BITLIN_AARCH64_SYSROOT /usr/${BITLIN_AARCH64_TRIPLE})

set(CMAKE_C_COMPILER ${BITLIN_AARCH64_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${BITLIN_AARCH64_TRIPLE}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${BITLIN_AARCH64_TRIPLE})

set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static;-L;${BITLIN_AARCH64_SYSROOT})

set(CMAKE_FIND_ROOT_PATH ${BITLIN_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

if(NOT DEFINED xsimd_DIR AND EXISTS /usr/lib/x86_64-linux-gnu/cmake/xsimd/xsimdConfig.cmake)
  set(xsimd_DIR /usr/lib/x86_64-linux-gnu/cmake/xsimd CACHE PATH "xsimd's (header-only) config")
endif()
