#pragma once

#define BITLIN_VERSION_MAJOR 0
#define BITLIN_VERSION_MINOR 1
#define BITLIN_VERSION_PATCH 0

namespace bitlin {
inline constexpr const char* version_string = "0.1.0";
}
