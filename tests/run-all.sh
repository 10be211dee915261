#!/usr/bin/env bash
# Runs the whole test suite in every configuration CI covers, each in its own
# build directory under build-ci/. Usage: tests/run-all.sh [stage ...]
# Stages: gcc clang sanitize valgrind m32 m3 m4f rv32 install report tsan fuzz bench
# options size (default:
# all of them that this machine has the tools for; a missing tool is an error
# under CI=true). m3/m4f/rv32 run the tests bare metal under qemu-system-*.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${MPGC_CI_OUT:-$ROOT/build-ci}
mkdir -p "$OUT"
JOBS=$(nproc 2>/dev/null || echo 2)
passed=0; failed=0; failures=()

have() { command -v "$1" >/dev/null 2>&1; }

# stage NAME CMAKE-ARGS... : configure, build, ctest
stage() {
  local name=$1; shift
  local dir=$OUT/$name
  echo "=== stage $name"
  if cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir.log" 2>&1 &&
     cmake --build "$dir" -j"$JOBS" >>"$dir.log" 2>&1 &&
     ctest --test-dir "$dir" --output-on-failure -j"$JOBS" 2>&1 | tee -a "$dir.log" | tail -n 3; then
    if grep -q "100% tests passed" "$dir.log"; then passed=$((passed+1)); return; fi
  fi
  tail -n 40 "$dir.log"
  failed=$((failed+1)); failures+=("$name")
}

skip_or_fail() { # a stage whose tool is missing
  if [ "${CI:-}" = true ]; then echo "=== stage $1: $2 missing"; failed=$((failed+1)); failures+=("$1")
  else echo "=== stage $1 skipped: $2 missing"; fi
}

want() { [ $# -eq 0 ] && return 0; local s; for s in "${STAGES[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
STAGES=("$@")
sel() { [ ${#STAGES[@]} -eq 0 ] || want "$1"; }

sel gcc && stage gcc -DCMAKE_C_COMPILER=gcc
if sel clang; then if have clang; then stage clang -DCMAKE_C_COMPILER=clang; else skip_or_fail clang clang; fi; fi
if sel sanitize; then
  if have clang; then
    ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=0 UBSAN_OPTIONS=halt_on_error=1 \
      stage sanitize -DCMAKE_C_COMPILER=clang -DMPGC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
  else skip_or_fail sanitize clang; fi
fi
if sel valgrind; then
  if have valgrind && [ -f /usr/include/valgrind/memcheck.h ]; then
    stage valgrind -DCMAKE_C_COMPILER=gcc -DMPGC_DEFINES=MPGC_VALGRIND=1 \
      "-DMPGC_TEST_WRAPPER=valgrind;-q;--error-exitcode=99;--leak-check=full"
  else skip_or_fail valgrind valgrind; fi
fi
if sel m32; then
  if echo 'int main(void){return 0;}' | gcc -m32 -x c - -o "$OUT/m32-probe" 2>/dev/null; then
    if "$OUT/m32-probe" 2>/dev/null; then
      stage m32 -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/i386.cmake"
    elif have qemu-i386; then # a kernel without 32-bit x86 support: user-mode qemu
      stage m32 -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/i386.cmake" "-DCMAKE_CROSSCOMPILING_EMULATOR=qemu-i386;-L;/"
    else skip_or_fail m32 "qemu-user (this kernel runs no 32-bit x86 programs)"; fi
  else skip_or_fail m32 gcc-multilib; fi
fi
# Bare-metal cross targets: a probe checks the compiler and its C library.
probe() { echo '#include <setjmp.h>
int main(void){return 0;}' | "$@" -x c - -o "$OUT/probe.o" 2>/dev/null; }
arm_ok() { probe arm-none-eabi-gcc -mcpu=cortex-m3 -mthumb --specs=rdimon.specs -c && have qemu-system-arm; }
if sel m3; then
  if arm_ok; then stage m3 -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/arm-cortex-m3.cmake"
  else skip_or_fail m3 "gcc-arm-none-eabi, libnewlib-arm-none-eabi or qemu-system-arm"; fi
fi
if sel m4f; then
  if arm_ok; then stage m4f -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/arm-cortex-m4f.cmake"
  else skip_or_fail m4f "gcc-arm-none-eabi, libnewlib-arm-none-eabi or qemu-system-arm"; fi
fi
if sel rv32; then
  if probe riscv64-unknown-elf-gcc -march=rv32imac -mabi=ilp32 --specs=picolibc.specs -c &&
     have qemu-system-riscv32; then
    stage rv32 -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/riscv32.cmake"
  else skip_or_fail rv32 "gcc-riscv64-unknown-elf, picolibc-riscv64-unknown-elf or qemu-system-misc"; fi
fi
if sel install; then # cmake --install, then a consumer through find_package and pkg-config
  echo "=== stage install"
  dir=$OUT/install
  rm -rf "$dir"
  if cmake -S "$ROOT" -B "$dir/build" -DMPGC_BUILD_TESTS=OFF >"$dir.log" 2>&1 &&
     cmake --build "$dir/build" -j"$JOBS" >>"$dir.log" 2>&1 &&
     cmake --install "$dir/build" --prefix "$dir/prefix" >>"$dir.log" 2>&1 &&
     PKG_CONFIG_PATH="$dir/prefix/lib/pkgconfig" cmake -S "$ROOT/tests/install" -B "$dir/consumer" \
       -DCMAKE_PREFIX_PATH="$dir/prefix" >>"$dir.log" 2>&1 &&
     cmake --build "$dir/consumer" >>"$dir.log" 2>&1 &&
     "$dir/consumer/consumer_cmake" && "$dir/consumer/consumer_pc"; then
    echo "installed package: find_package and pkg-config consumers run"; passed=$((passed+1))
  else tail -n 30 "$dir.log"; failed=$((failed+1)); failures+=(install); fi
fi
if sel report; then # `mpgc report` pages: tidy, then headless chromium (tests/report-browser.sh)
  if have tidy && have python3 && { have chromium || have chromium-browser; }; then
    echo "=== stage report"
    dir=$OUT/report
    if cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DMPGC_BUILD_TESTS=OFF >"$dir.log" 2>&1 &&
       cmake --build "$dir" -j"$JOBS" --target mpgc_tool >>"$dir.log" 2>&1 &&
       tests/report-browser.sh "$dir" >>"$dir.log" 2>&1; then
      grep -E "^report-browser: [0-9]+ pages" "$dir.log"; passed=$((passed+1))
    else tail -n 30 "$dir.log"; failed=$((failed+1)); failures+=(report); fi
  else skip_or_fail report "chromium, tidy or python3"; fi
fi
if sel tsan; then # the thread stress test under ThreadSanitizer
  if have clang; then
    TSAN_OPTIONS=halt_on_error=1 stage tsan -DCMAKE_C_COMPILER=clang \
      -DCMAKE_C_FLAGS=-fsanitize=thread -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread
  else skip_or_fail tsan clang; fi
fi
if sel fuzz; then # libFuzzer + ASan + UBSan, from the committed corpora: fuzz_heap FUZZ_SECONDS
  # long, fuzz_step (collection in steps) FUZZ_STEP_SECONDS long, and fuzz_step with its planted
  # missing barrier (ASan driver, random inputs: libFuzzer finds it far more slowly,
  # docs/reliability.md), which must fail within 60 s
  if have clang; then
    echo "=== stage fuzz"
    dir=$OUT/fuzz
    if cmake -S "$ROOT" -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
         -DMPGC_FUZZ=ON -DMPGC_SANITIZE=ON >"$dir.log" 2>&1 &&
       cmake --build "$dir" -j"$JOBS" --target fuzz_heap fuzz_step fuzz_step_planted_driver >>"$dir.log" 2>&1 &&
       mkdir -p "$dir/corpus" "$dir/corpus-step" "$dir/planted" && (cd "$dir" && ASAN_OPTIONS=detect_stack_use_after_return=0 \
         ./fuzz/fuzz_heap -max_total_time="${FUZZ_SECONDS:-60}" -max_len=4096 -print_final_stats=1 \
         corpus "$ROOT/fuzz/corpus") >>"$dir.log" 2>&1 &&
       (cd "$dir" && ASAN_OPTIONS=detect_stack_use_after_return=0 \
         ./fuzz/fuzz_step -max_total_time="${FUZZ_STEP_SECONDS:-30}" -max_len=4096 -print_final_stats=1 \
         corpus-step "$ROOT/fuzz/corpus-step") >"$dir-step.log" 2>&1 &&
       (cd "$dir/planted" && ASAN_OPTIONS=detect_stack_use_after_return=0 sh "$ROOT/fuzz/planted.sh" 60 \
         ../fuzz/fuzz_step_planted_driver -n 100000000) >"$dir-planted.log" 2>&1; then
      grep -E "stat::number_of_executed_units|Done " "$dir.log" | tail -2
      grep -E "stat::number_of_executed_units|Done " "$dir-step.log" | tail -2 | sed 's/^/fuzz_step: /'
      cat "$dir-planted.log"; passed=$((passed+1))
    else tail -n 40 "$dir.log"; tail -n 40 "$dir-step.log" "$dir-planted.log" 2>/dev/null
      failed=$((failed+1)); failures+=(fuzz); fi
  else skip_or_fail fuzz clang; fi
fi
if sel bench; then # the benchmarks must build and run; their quick modes check no figures
  if pkg-config --exists bdw-gc 2>/dev/null || [ -f /usr/include/gc.h ]; then
    echo "=== stage bench"
    dir=$OUT/bench
    if cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DMPGC_BUILD_BENCH=ON -DMPGC_BUILD_TESTS=OFF \
         >"$dir.log" 2>&1 &&
       cmake --build "$dir" -j"$JOBS" --target mpgc-bench mpgc-pause mpgc-step >>"$dir.log" 2>&1 &&
       "$dir/bench/mpgc-bench" --quick --csv "$dir/quick.csv" >>"$dir.log" 2>&1 &&
       "$dir/bench/mpgc-pause" --quick >>"$dir.log" 2>&1 &&
       "$dir/bench/mpgc-step" --quick >>"$dir.log" 2>&1; then
      grep -E "^mpgc-bench:|^mpgc-(pause|step): (ok|FAILED)" "$dir.log" | tail -3; passed=$((passed+1))
    else tail -n 30 "$dir.log"; failed=$((failed+1)); failures+=(bench); fi
  else skip_or_fail bench libgc-dev; fi
fi
if sel options; then
  # Every option flipped from its default, and everything off at once.
  stage opt-interior -DMPGC_DEFINES="MPGC_INTERIOR_POINTERS=1;MPGC_DEBUG=1"
  stage opt-minimal -DMPGC_DEFINES="MPGC_ENABLE_FINALISERS=0;MPGC_ENABLE_THRESHOLD=0;MPGC_ENABLE_SPLIT_HEAP=0;MPGC_ENABLE_LOCK_HOOKS=0;MPGC_ENABLE_STATS=0;MPGC_ENABLE_FIRST_FIT=0;MPGC_ENABLE_PROGRESS=0;MPGC_ENABLE_SNAPSHOT=0;MPGC_ENABLE_STEPS=0"
  stage opt-micropython -DMPGC_DEFINES="MPGC_ENABLE_LOCK_HOOKS=0;MPGC_ENABLE_THRESHOLD=0;MPGC_ENABLE_SAFE_ORDER=0"
  stage opt-lean -DMPGC_DEFINES="MPGC_CONFIG_FILE=\"$ROOT/port/profile-lean.h\""
  stage opt-blocks -DMPGC_DEFINES="MPGC_BLOCK_WORDS=8;MPGC_CLASS_SPLIT_LOG2=3;MPGC_CLASS_MAX_LOG2=12;MPGC_MARK_STACK_SIZE=4;MPGC_LARGE_BLOCKS=0"
fi

if sel size; then # Cortex-M4 code size and RAM figures against tools/size-limits.txt
  if have arm-none-eabi-gcc; then
    echo "=== stage size"
    if tools/size-report.sh >"$OUT/size.log" 2>&1; then
      grep -E '^total|^linked|control block|block tables|by-function table|not met|no limit|FAIL' "$OUT/size.log"; passed=$((passed+1))
    else cat "$OUT/size.log"; failed=$((failed+1)); failures+=(size); fi
  else skip_or_fail size gcc-arm-none-eabi; fi
fi

echo "=== summary: ${failures[*]:-no failures}"
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
