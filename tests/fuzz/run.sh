#!/bin/sh
# Build the libFuzzer targets and run each for FUZZ_SECONDS (default 30)
# on a working corpus seeded from tests/fuzz/seeds/<target>/.
# Usage: sh tests/fuzz/run.sh [target...]   (default: all targets)
# Binaries go to build/fuzz/bin/, logs to build/fuzz/<target>.log, and
# crashes are left in build/fuzz/<target>/ as crash-* files.
set -eu

cd "$(dirname "$0")/../.."
SECONDS_PER_TARGET="${FUZZ_SECONDS:-30}"
CLANG="${CLANG:-clang}"
OUT=build/fuzz
TARGETS="${*:-fuzz_parse fuzz_json fuzz_jsontok fuzz_sse fuzz_http1 fuzz_chunked fuzz_decode fuzz_h2 fuzz_eventstream fuzz_ndjson}"

if ! command -v "$CLANG" >/dev/null 2>&1; then
  echo "fuzz: $CLANG not found (libFuzzer needs clang)" >&2
  exit 1
fi

SRC="$(ls providers/*.c common/*.c wire/*.c)"
mkdir -p "$OUT/bin"
status=0
for t in $TARGETS; do
  echo "fuzz: building $t"
  "$CLANG" -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I. -Icommon -Iproviders \
    "tests/fuzz/$t.c" $SRC -o "$OUT/bin/$t" -lcjson -lpthread \
    -lz -lbrotlidec -lbrotlienc -lzstd -lnghttp2
  corpus="$OUT/$t/corpus"
  mkdir -p "$corpus"
  if [ -d "tests/fuzz/seeds/$t" ]; then
    cp -n tests/fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true
  fi
  echo "fuzz: running $t for ${SECONDS_PER_TARGET}s"
  if ! (cd "$OUT/$t" && "../bin/$t" -max_total_time="$SECONDS_PER_TARGET" \
          -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
          corpus >"../$t.log" 2>&1); then
    echo "fuzz: $t FAILED; see $OUT/$t.log and $OUT/$t/crash-*" >&2
    tail -n 40 "$OUT/$t.log" >&2
    status=1
  else
    grep -E "^stat::number_of_executed_units|^Done" "$OUT/$t.log" || true
  fi
done
exit $status
