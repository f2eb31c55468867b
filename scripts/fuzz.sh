#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) into build-fuzz/ with Clang, ASan and UBSan, then
# runs each one on a copy of its seed corpus. Exits non-zero when any target finds a crash,
# leak, UB, uncaught exception, timeout or out-of-memory; the reproducer is saved under
# build-fuzz/fuzz-run/<target>/ (see tests/fuzz/README.md to reproduce and minimize it).
#
# Environment:
#   CERTCLI_FUZZ_SECONDS   how long each target runs (default 30)
#   CERTCLI_FUZZ_TARGETS   space-separated subset of targets (default: every tests/fuzz/fuzz_*.cpp)
#   CERTCLI_FUZZ_BUILD_DIR build directory (default build-fuzz)
#   CERTCLI_FUZZ_PREBUILT=1 run the targets already built there, installing and building nothing
#                          (scripts/test.sh builds them in its sanitizer build and runs them briefly)
# Extra arguments are passed to every libFuzzer run, e.g. scripts/fuzz.sh -max_len=512.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${CERTCLI_FUZZ_SECONDS:-30}
build_dir=${CERTCLI_FUZZ_BUILD_DIR:-build-fuzz}
if [[ ${CERTCLI_FUZZ_PREBUILT:-0} != 1 ]]; then
# Clang and its libFuzzer runtime come with the project's packages.
scripts/install-deps.sh

CXX=clang++ cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCERTCLI_FUZZ=ON \
  -DCERTCLI_BUILD_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
fi

if [[ -n ${CERTCLI_FUZZ_TARGETS:-} ]]; then
  read -r -a targets <<<"$CERTCLI_FUZZ_TARGETS"
else
  targets=()
  for source in tests/fuzz/fuzz_*.cpp; do targets+=("$(basename "$source" .cpp)"); done
fi

# Abort on the first UB report so libFuzzer saves the input; leaks are checked at exit of
# each input (libFuzzer's -detect_leaks=1 default).
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_stack_use_after_return=1}

failed=()
summary=()
for target in "${targets[@]}"; do
  binary="$build_dir/tests/fuzz/$target"
  [[ -x $binary ]] || { echo "fuzz.sh: no such target: $target" >&2; exit 2; }
  run="$build_dir/fuzz-run/$target"
  rm -rf "$run"
  mkdir -p "$run/corpus" "$run/artifacts"
  if [[ -d tests/fuzz/corpus/$target ]]; then cp -r "tests/fuzz/corpus/$target/." "$run/corpus/"; fi
  echo "fuzz.sh: $target for ${seconds} s (log: $run/fuzz.log)"
  status=0
  "$binary" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=25 -print_final_stats=1 \
    -artifact_prefix="$run/artifacts/" "$@" "$run/corpus" >"$run/fuzz.log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run/fuzz.log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$run/fuzz.log" | tail -1 || true)
  corpus=$(find "$run/corpus" -type f | wc -l)
  artifacts=$(find "$run/artifacts" -type f | sort)
  if [[ $status -ne 0 || -n $artifacts ]]; then
    failed+=("$target")
    summary+=("$target: FAILED (exit $status) execs=${execs:-?} ${cov:-} corpus=$corpus")
    echo "fuzz.sh: $target FAILED (exit $status); reproducer(s):" >&2
    for a in $artifacts; do echo "  $a" >&2; done
    grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|invariant failed|terminate called' \
      "$run/fuzz.log" >&2 || true
  else
    summary+=("$target: ok execs=${execs:-?} ${cov:-} corpus=$corpus")
  fi
done

echo
echo "fuzz.sh: summary (${seconds} s per target)"
printf '  %s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "fuzz.sh: findings in: ${failed[*]} (see tests/fuzz/README.md to reproduce)" >&2
  exit 1
fi
echo "fuzz.sh: no findings"
