#!/usr/bin/env bash
# Installs hpt's build and test dependencies from Debian 12's packages, as root (or through sudo).
# A machine that already has them all makes no network call: every package is checked with dpkg
# first, and apt-get (update, then install) runs only for the missing ones.
set -euo pipefail

packages=(
  cmake                # >= 3.25 on Debian 12
  ninja-build
  g++
  clang
  libclang-rt-14-dev   # clang's sanitizer runtimes (asan, ubsan, tsan)
  llvm                 # llvm-symbolizer: sanitizer reports with file:line
  catch2               # tests (Catch2 2.13)
  libbenchmark-dev     # benchmarks (Google Benchmark)
  libeigen3-dev        # hpt::models
  nlohmann-json3-dev   # hpt::json
  libsqlite3-dev       # hpt::sqlite
  libopenmpi-dev       # hpt::mpi
  openmpi-bin          # mpirun, for the MPI tests and examples
  clang-format
)

# Installed, not just known to dpkg (a removed package keeps a "deinstall ... config-files" entry).
installed() {
  [[ "$(dpkg -s "$1" 2>/dev/null)" == *"Status: install ok installed"* ]]
}

missing=()
for package in "${packages[@]}"; do
  installed "$package" || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "install-deps: missing packages (${missing[*]}) and not root; run as root or install" \
      "them with apt-get" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  "${missing[@]}" </dev/null

for package in "${missing[@]}"; do
  if ! installed "$package"; then
    echo "install-deps: $package is still not installed" >&2
    exit 1
  fi
done
echo "install-deps: done"
