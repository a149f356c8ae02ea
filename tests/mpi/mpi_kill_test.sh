#!/usr/bin/env bash
# The MPI kill test: for each seed, a study with SQLite storage on rank 0 runs under mpirun while
# a worker rank SIGKILLs itself at a seeded step (mpirun then tears the job down; for half the
# seeds rank 0 is killed at the same moment, which cuts the stored study there); mpirun again
# resumes the study from the file, and rank 0 checks that the finished study equals an
# uninterrupted one (grid, random search, successive halving, Hyperband in turn).
#
#   mpi_kill_test.sh MPIEXEC PROGRAM RANKS SEEDS SCRATCH_DIR
set -uo pipefail

mpiexec=$1 program=$2 ranks=$3 seeds=$4 scratch=$5
strategies=(grid random halving hyperband)
# About the steps one of 3 worker ranks runs in each study (216, 360, 81 and 300 in all), less a
# little: most kills land inside the study, a few after its end.
declare -A steps_per_rank=([grid]=60 [random]=100 [halving]=24 [hyperband]=80)
declare -A killed_in
run=("$mpiexec" --allow-run-as-root --oversubscribe -np "$ranks")
mkdir -p "$scratch"
killed=0 resumed=0

for ((seed = 1; seed <= seeds; ++seed)); do
  strategy=${strategies[seed % 4]}
  file="$scratch/kill_$seed.db"
  rm -f "$file" "$file-wal" "$file-shm"
  # A seeded victim and moment: rank 1 .. ranks-1, at one of its steps.
  victim=$((1 + (seed * 7919) % (ranks - 1)))
  after=$((1 + (seed * 104729) % ${steps_per_rank[$strategy]}))
  # Every other seed rank 0 dies with the victim, so that the stored study ends at that moment
  # (otherwise the other ranks go on during mpirun's second of teardown).
  with_coordinator=$(((seed / 4) % 2 == 0 ? 1 : 0))
  coordinator=no
  ((with_coordinator)) && coordinator=yes
  timeout 120 "${run[@]}" "$program" --file "$file" --strategy "$strategy" --seed "$seed" \
    --kill-rank "$victim" --kill-after "$after" --kill-coordinator "$coordinator" \
    >"$scratch/first_$seed.log" 2>&1
  first=$?
  if ((first == 124)); then
    echo "mpi_kill_test: seed $seed: the killed run hung (no teardown within 120 s)" >&2
    cat "$scratch/first_$seed.log" >&2
    exit 1
  fi
  if ((first != 0)); then
    ((++killed))
    killed_in[$strategy]=1
  fi
  if ! timeout 120 "${run[@]}" "$program" --file "$file" --strategy "$strategy" \
    --seed "$seed" >"$scratch/again_$seed.log" 2>&1; then
    echo "mpi_kill_test: seed $seed ($strategy, rank $victim killed at its step $after," \
      "first run exit $first): the resumed run failed" >&2
    cat "$scratch/first_$seed.log" "$scratch/again_$seed.log" >&2
    exit 1
  fi
  said=$(grep 'mpi_kill_test: equal' "$scratch/again_$seed.log")
  echo "seed $seed: $strategy, rank $victim at step $after (rank 0 too: $coordinator):" \
    "first run exit $first; again: $said"
  # A resume that kept nothing would equal the uninterrupted study too: count those that did.
  if ((first != 0)) && [[ $said =~ trained\ ([0-9]+)\ of\ its\ ([0-9]+) ]] &&
    ((BASH_REMATCH[1] < BASH_REMATCH[2])); then
    ((++resumed))
  fi
done

# Most kills must land inside the study, in every strategy, or the test tests nothing.
if ((killed * 2 < seeds)); then
  echo "mpi_kill_test: only $killed of $seeds runs were killed" >&2
  exit 1
fi
if ((resumed * 4 < killed * 3)); then
  echo "mpi_kill_test: only $resumed of $killed killed studies kept work for the next run" >&2
  exit 1
fi
for strategy in "${strategies[@]}"; do
  if [[ -z "${killed_in[$strategy]:-}" ]]; then
    echo "mpi_kill_test: no run of $strategy was killed" >&2
    exit 1
  fi
done
echo "mpi_kill_test: $killed of $seeds runs killed ($resumed resumed with work kept), every study" \
  "equal to the uninterrupted one"
rm -rf "$scratch"
