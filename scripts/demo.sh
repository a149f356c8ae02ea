#!/usr/bin/env bash
# Builds and runs hpt's demo (examples/demo.cpp, target hpt_demo) in build/gcc, after installing
# the dependencies. Arguments are passed to the demo. The study is stored in build/demo.db as it
# runs: interrupt it (Ctrl-C) and run this again, and it continues where it stopped; once it has
# finished, it is shown again without running (delete it with: build/gcc/tools/hpt delete
# build/demo.db 'digits MLP', or remove the file).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

"$root/scripts/install-deps.sh"
cmake --preset gcc
if ! cmake --build --preset gcc --parallel "${HPT_JOBS:-2}" --target hpt_demo hpt_cli; then
  echo "demo.sh: building hpt_demo failed (is there an examples/demo.cpp?)" >&2
  exit 1
fi
echo "==== build/gcc/examples/hpt_demo --study build/demo.db $* ===="
exec "$root/build/gcc/examples/hpt_demo" --study "$root/build/demo.db" "$@"
