# Install rules: the headers, the exported target set bitlin::bitlin and a package config that
# finds the dependencies. bitlin is header-only, so everything goes under share/ and the version
# file ignores the architecture (one install serves x86-64 and AArch64 consumers alike).
include(CMakePackageConfigHelpers)

set(BITLIN_INSTALL_CMAKEDIR "${CMAKE_INSTALL_DATADIR}/cmake/bitlin"
    CACHE STRING "Where bitlinConfig.cmake is installed, relative to the prefix")

# The whole tree: besides .hpp headers, kernels include textual fragments (.inc) by path.
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/bitlin"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

install(TARGETS bitlin EXPORT bitlinTargets)
# The source of bitlin::kernels, which the package config builds in the consumer's project.
install(FILES "${PROJECT_SOURCE_DIR}/src/kernel_tables.cpp" DESTINATION "${BITLIN_INSTALL_CMAKEDIR}")
install(EXPORT bitlinTargets
        NAMESPACE bitlin::
        FILE bitlinTargets.cmake
        DESTINATION "${BITLIN_INSTALL_CMAKEDIR}")

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/bitlinConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/bitlinConfig.cmake"
  INSTALL_DESTINATION "${BITLIN_INSTALL_CMAKEDIR}")
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/bitlinConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMajorVersion
  ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/bitlinConfig.cmake"
              "${PROJECT_BINARY_DIR}/bitlinConfigVersion.cmake"
        DESTINATION "${BITLIN_INSTALL_CMAKEDIR}")

install(FILES "${PROJECT_SOURCE_DIR}/LICENSE" DESTINATION "${CMAKE_INSTALL_DATADIR}/doc/bitlin")
