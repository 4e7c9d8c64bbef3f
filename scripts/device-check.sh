#!/usr/bin/env bash
# Runs engram's checks on a lent GPU machine that has no Node.js and no network
# (the workplace's `device` tool). Build everything here first (npm install with
# nvcc present), then pack what the run needs into .device/bundle.tar.xz:
#
#   bash scripts/device-check.sh pack
#
# and on the GPU machine, from the repository root (OUT = folder for logs):
#
#   bash scripts/device-check.sh run [native] [ava] [bench SUITES...]
#
# `native` runs every build/test_* binary (the parity harness runs each op on
# the CUDA backend against the CPU reference); `ava` runs the whole ava suite
# with the GPU present; `bench` runs `engram bench --device cuda` on the named
# suites plus the native CUDA GEMM bench. Logs go to $OUT.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
OUT=${OUT:-$root/.device/out}
mkdir -p "$OUT"

if [ "${1:-}" = pack ]; then
  mkdir -p .device
  cp "$(command -v node)" .device/node
  tar -cf - -C .device node -C "$root" build/Release/engram.node build/.engram-cuda \
    $(ls build/test_* build/bench_* 2>/dev/null) dist \
    --exclude='node_modules/@typescript' --exclude='node_modules/typescript' --exclude='node_modules/@types' \
    node_modules | xz -T2 -6 > .device/bundle.tar.xz
  rm -f .device/node
  ls -la .device/bundle.tar.xz
  exit 0
fi

[ "${1:-}" = run ] || { echo "usage: $0 pack | run [native] [ava] [bench SUITES...]"; exit 2; }
shift
[ -x ./node ] || tar xJf .device/bundle.tar.xz || exit 1
export PATH=$root:$PATH
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv
rc=0
while [ $# -gt 0 ]; do
  case "$1" in
    native)
      for b in build/test_*; do
        echo "== $b"
        timeout 150 "./$b" >"$OUT/native-$(basename "$b").log" 2>&1
        r=$?
        tail -n 4 "$OUT/native-$(basename "$b").log"
        echo "rc=$r"
        [ $r -eq 0 ] || rc=1
      done
      # at most 8 files come back: fold the per-binary logs into one
      cat "$OUT"/native-*.log >"$OUT/native.log"; rm -f "$OUT"/native-*.log
      ;;
    ava)
      ENGRAM_TEST_NATIVE=0 timeout 300 ./node scripts/test.mjs >"$OUT/ava.log" 2>&1 || rc=1
      grep -E "✘|failed|passed" "$OUT/ava.log" | tail -n 30
      ;;
    bench)
      shift
      suites=()
      while [ $# -gt 0 ] && [[ "$1" != native && "$1" != ava ]]; do suites+=("$1"); shift; done
      [ -x build/bench_cuda ] && { ./build/bench_cuda 2>&1 | tee "$OUT/bench_cuda.log"; }
      command -v python3 >/dev/null && python3 -c 'import torch' 2>/dev/null &&
        { python3 scripts/torch_baseline.py 2>&1 | tee "$OUT/torch_baseline.log"; }
      [ ${#suites[@]} -gt 0 ] && timeout ${BENCH_TIMEOUT:-300} ./node dist/lib/cli.mjs bench --device cuda --json "$OUT/bench.json" "${suites[@]}" \
        2>&1 | tee "$OUT/bench.log"
      continue
      ;;
    *) echo "unknown step $1"; rc=2 ;;
  esac
  shift
done
exit $rc
