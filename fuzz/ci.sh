#!/usr/bin/env bash
# Bounded fuzzing run for CI: builds every target of fuzz/ and runs each for FUZZ_SECONDS
# (default 20) on its checked-in corpus. Exits non-zero if any target finds a crash; exits 0
# with a message if cargo-fuzz cannot be installed here.
#
#   bash fuzz/ci.sh                          # all targets, 20 s each
#   FUZZ_SECONDS=300 bash fuzz/ci.sh h1_request acl_reference
set -uo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-20}"
# cargo-fuzz finds its binaries under fuzz/target; a target dir from the environment would move them.
unset CARGO_TARGET_DIR
export PATH="$HOME/.cargo/bin:$PATH"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz/ci.sh: installing cargo-fuzz"
    if ! cargo install cargo-fuzz --locked; then
        echo "fuzz/ci.sh: cargo install cargo-fuzz failed (see above); skipping the fuzz run"
        exit 0
    fi
fi

# `-s none`: no sanitizer, so no nightly-only -Z flags and the stable toolchain works.
# `-a`: debug assertions (integer overflow checks) in the fuzzed code.
flags=(-s none -a)
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi
echo "fuzz/ci.sh: building ${#targets[@]} targets"
for t in "${targets[@]}"; do
    if ! cargo fuzz build "${flags[@]}" "$t"; then
        echo "fuzz/ci.sh: build of $t failed"
        exit 1
    fi
done

failed=()
mkdir -p work
for t in "${targets[@]}"; do
    mkdir -p "work/$t" "corpus/$t"
    log="work/$t.log"
    echo "fuzz/ci.sh: $t for ${seconds}s"
    cargo fuzz run "${flags[@]}" "$t" "work/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 \
        >"$log" 2>&1
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    if [ "$rc" -ne 0 ]; then
        echo "fuzz/ci.sh: FINDING in $t (exit $rc); input saved under fuzz/artifacts/$t/"
        grep -E "panicked|ERROR|SUMMARY|Test unit written" "$log" | head -20
        failed+=("$t")
    else
        echo "fuzz/ci.sh: $t ok: ${execs:-?} executions in ${seconds}s"
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz/ci.sh: findings in: ${failed[*]}"
    exit 1
fi
echo "fuzz/ci.sh: ${#targets[@]} targets ran ${seconds}s each without a finding"
