// The library version: the one place it is written (CMakeLists.txt reads it from here).
#pragma once

#define BITLIN_VERSION_MAJOR 0
#define BITLIN_VERSION_MINOR 2
#define BITLIN_VERSION_PATCH 0

#define BITLIN_VERSION_STR2(x) #x
#define BITLIN_VERSION_STR(x) BITLIN_VERSION_STR2(x)

namespace bitlin {
inline constexpr const char* version_string =
    BITLIN_VERSION_STR(BITLIN_VERSION_MAJOR) "." BITLIN_VERSION_STR(
        BITLIN_VERSION_MINOR) "." BITLIN_VERSION_STR(BITLIN_VERSION_PATCH);
}
