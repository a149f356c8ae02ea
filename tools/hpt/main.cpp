/// @file main.cpp
/// @brief The `hpt` program: see cli.hpp.

#include <iostream>
#include <string>
#include <vector>

#include "cli.hpp"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  return hpt::cli::run(args, std::cout, std::cerr);
}
