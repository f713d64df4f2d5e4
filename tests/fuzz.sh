#!/usr/bin/env bash
# strom's fuzz targets (tests/fuzz, cargo-fuzz with libFuzzer), each for a bounded time.
#
#   bash tests/fuzz.sh                 every target for 30 s (what tests/run.sh runs)
#   FUZZ_SECONDS=600 bash tests/fuzz.sh request record_batch   chosen targets, longer
#
# cargo-fuzz needs nightly features; this uses the stable toolchain with
# RUSTC_BOOTSTRAP=1 (cargo-fuzz itself is installed from crates.io when missing).
# Crashing inputs land in tests/fuzz/artifacts/<target>/: add each one to
# tests/fuzz/regressions/<target>/ so that `cargo test` replays it
# (tests/fuzz_regressions.rs). With CI=true a crash fails the run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${FUZZ_SECONDS:-30}"
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz from crates.io"
    cargo install cargo-fuzz --locked --version 0.13.2
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list --fuzz-dir tests/fuzz)
fi

# One build for all targets; --sanitizer none: strom forbids unsafe code, so
# libFuzzer's coverage guidance is what is needed, not AddressSanitizer.
cargo fuzz build --fuzz-dir tests/fuzz --sanitizer none -O

failed=()
for t in "${targets[@]}"; do
    corpus="target/fuzz-corpus/$t"
    mkdir -p "$corpus"
    seeds=()
    [ -d "tests/fuzz/corpus/$t" ] && seeds=("tests/fuzz/corpus/$t")
    echo "======== fuzz $t for ${seconds}s ========"
    # -rss_limit_mb / -malloc_limit_mb: an input that makes strom allocate
    # past them is a failure (the bound on what one input may cost).
    log="target/fuzz-$t.log"
    set +e
    cargo fuzz run --fuzz-dir tests/fuzz --sanitizer none -O "$t" "$corpus" "${seeds[@]}" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    grep -E "^#[0-9]+ +(DONE|INITED)|stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY|panicked" "$log" | tail -n 8 || true
    if [ "$rc" -ne 0 ]; then
        tail -n 40 "$log"
        failed+=("$t")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "FUZZ FAILED: ${failed[*]} (inputs in tests/fuzz/artifacts/)"
    exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no crash"
