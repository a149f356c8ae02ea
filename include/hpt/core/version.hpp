#pragma once
/// @file version.hpp
/// @brief hpt's version, as CMake's project() declares it (a test checks they agree). Storages
/// record it with each study.

#include <string_view>

namespace hpt {

/// @brief "major.minor.patch".
inline constexpr std::string_view version = "0.1.0";

}  // namespace hpt
