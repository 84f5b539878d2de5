#!/usr/bin/env bash
# tests/run_all.sh - every test leg of dl.h; `make test` runs it, CI runs `make test`.
#
#   bash tests/run_all.sh [LEG...]      legs: main compile asan valgrind neon sse2 (default: all)
#
# Each test prints one line, `PASS name` or `FAIL name`, with its output (compiler
# errors, sanitizer report) indented below on failure; full logs go to build/logs/.
# The last line is the grand total over all legs, `N passed, N failed`, and the exit
# status is non-zero when anything failed.
#   main      tests/main.c (-O2, C99, warnings as errors) run; its own counts are added
#   compile   compile tests, one test each: C99/C++11 x gcc/clang, DL_STATIC in two units,
#             header included twice, DL_NO_STDIO, quickstart, the suite built as C++,
#             each examples/*.c builds
#   asan      the suite under gcc -fsanitize=address,undefined: ONE test, passes on exit 0
#   valgrind  the suite (-O1 -g) under valgrind memcheck: ONE test, passes on exit 0
#   neon      the suite cross-built for AArch64 and run under qemu-aarch64: ONE test
#   sse2      the suite run under qemu-x86_64 -cpu Nehalem (no AVX: SSE2 kernels): ONE test
#   cuda      dl_cuda.h: nvcc -Werror all-warnings for sm_80 + sm_90 (the CUDA suite, the
#             example, the benchmark, a C program linked to a separate dl_cuda.o); the
#             CUDA suite emulated on the CPU (g++ -DDLC_EMULATE), its counts added; the
#             real CUDA suite run (it reports SKIP without a GPU)
#
# Adding a leg (NEON under qemu-aarch64, Cortex-M, other compilers...): write a function
# leg_NAME that calls run_test / pass / fail / add_counts, then add NAME to ALL_LEGS.
# A leg whose tools are missing must FAIL (CI installs them), never skip silently.
#
# Environment: CC (default cc) builds the main and valgrind suites; CXX_SUITE=0 leaves
# out the suite built and run as C++11 (g++); TIMEOUT (seconds per run, default 900).
set -u

cd "$(dirname "$0")/.." || exit 2
B=build
LOGS=$B/logs
mkdir -p "$B/compile" "$LOGS" || exit 2

CC=${CC:-cc}
TIMEOUT=${TIMEOUT:-900}
ALL_LEGS="main compile asan valgrind neon sse2 cuda"

WARN_COMMON="-Wall -Wextra -Wpedantic -Werror -Wshadow -Wdouble-promotion"
WARN_C="-std=c99 $WARN_COMMON -Wstrict-prototypes"
WARN_CXX="-x c++ -std=c++11 $WARN_COMMON"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

PASSED=0
FAILED=0

# ---- helpers --------------------------------------------------------------------------
pass() { PASSED=$((PASSED + 1)); echo "PASS $1"; }

# fail NAME [LOGFILE]: count a failure and show the end of its log, indented
fail() {
    FAILED=$((FAILED + 1))
    echo "FAIL $1"
    if [ -n "${2:-}" ] && [ -s "$2" ]; then
        local n
        n=$(wc -l < "$2")
        tail -n 80 "$2" | sed 's/^/    /'
        [ "$n" -gt 80 ] && echo "    ... last 80 of $n lines; full log: $2"
    fi
    return 0
}

add_counts() { PASSED=$((PASSED + $1)); FAILED=$((FAILED + $2)); }

# slug NAME -> a file name for the log
slug() { printf '%s' "$1" | tr -c 'A-Za-z0-9_.+-' '_'; }

# run_test NAME CMD...: one test; passes when the command (a shell string) exits 0
run_test() {
    local name=$1 log
    shift
    log=$LOGS/$(slug "$name").log
    if (eval "$*") > "$log" 2>&1; then
        pass "$name"
    else
        echo "(exit status $?)" >> "$log"
        fail "$name" "$log"
    fi
}

# need TOOL...: fail (return 1) when one is missing
need() {
    local t
    for t in "$@"; do
        command -v "$t" > /dev/null 2>&1 || { echo "$t: not found (CI installs it: see .ci/run)"; return 1; }
    done
}

# counts LOG -> "P F" from the suite's last "N passed, N failed" line, or nothing
counts() {
    grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1 | sed -E 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/'
}

# ---- leg a: the main suite ----------------------------------------------------------
leg_main() {
    local log=$LOGS/main.log out=$B/test_main rc c p f
    if ! need "${CC%% *}" > "$log" 2>&1 ||
       ! $CC -O2 $WARN_C -I. tests/main.c -o "$out" -lm >> "$log" 2>&1; then
        fail "main suite: build ($CC -O2 -std=c99 -Werror ...)" "$log"
        return
    fi
    (timeout "$TIMEOUT" "./$out"; exit $?) > "$log" 2>&1   # a crash message lands in the log
    rc=$?
    sed 's/^/    /' "$log"
    c=$(counts "$log")
    if [ -z "$c" ]; then
        fail "main suite: no 'N passed, N failed' line (exit status $rc)"
        return
    fi
    set -- $c
    p=$1 f=$2
    add_counts "$p" "$f"
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        fail "main suite: exit status $rc with 0 failed"
    elif [ "$f" -eq 0 ]; then
        echo "PASS main suite ($p passed, 0 failed)"
    else
        echo "FAIL main suite ($p passed, $f failed; see the FAIL lines above)"
    fi
}

# ---- leg b: compile tests -----------------------------------------------------------
# the quickstart in tests/compile/quickstart.c must be dl.h's top-comment program, verbatim
quickstart_matches() {
    local want=$B/compile/quickstart.want got=$B/compile/quickstart.got
    awk '/A 12-LINE PROGRAM/ {on = 1; next} on && /^[ \t]*$/ {exit} on {print}' dl.h |
        sed -e 's/^[ \t]*//' -e 's/[ \t]*$//' > "$want"
    awk '/BEGIN quickstart/ {on = 1; next} /END quickstart/ {on = 0} on {print}' \
        tests/compile/quickstart.c | sed -e 's/^[ \t]*//' -e 's/[ \t]*$//' > "$got"
    [ -s "$want" ] || { echo "dl.h: no 'A 12-LINE PROGRAM' block found"; return 1; }
    diff -u "$want" "$got" || { echo "tests/compile/quickstart.c differs from dl.h's top comment (diff above: - dl.h, + quickstart.c)"; return 1; }
}

# no stdio symbols may be referenced by the DL_NO_STDIO object
no_stdio_symbols() {
    local bad
    bad=$(nm -u "$1" | awk '{print $NF}' | sed 's/@.*//' |
          grep -E '^_*(f|s|sn|v|vf|vs|vsn)?printf(_chk)?$|^_*(f?puts|f?putc|putchar|fputc|fwrite|fread|fopen|fclose|fflush|perror|_IO_.*|stdout|stderr|stdin)$' || true)
    [ -z "$bad" ] || { echo "DL_NO_STDIO object references stdio:" $bad; return 1; }
}

leg_compile() {
    local C=$B/compile T=tests/compile cc f
    for cc in gcc clang; do
        run_test "c99 $cc: dl.h + implementation" \
            "need $cc && $cc -O2 $WARN_C -I. $T/api.c -o $C/api_$cc -lm && timeout 60 ./$C/api_$cc"
    done
    for cc in g++ clang++; do
        run_test "c++11 $cc: dl.h + implementation" \
            "need $cc && $cc -O2 $WARN_CXX -I. $T/api.c -o $C/api_$cc -lm && timeout 60 ./$C/api_$cc"
    done
    run_test "mixed: implementation as C (gcc), caller as C++11 (g++)" \
        "need gcc g++ && gcc -O2 $WARN_C -I. -c $T/impl_only.c -o $C/impl_only.o &&
         g++ -O2 $WARN_CXX -I. -DAPI_NO_IMPL -c $T/api.c -o $C/api_cxx.o &&
         g++ $C/api_cxx.o $C/impl_only.o -o $C/mixed -lm && timeout 60 ./$C/mixed"
    for cc in gcc clang; do
        run_test "DL_STATIC in two translation units ($cc)" \
            "need $cc && $cc -O2 $WARN_C -I. $T/static_a.c $T/static_b.c -o $C/static_$cc -lm && timeout 60 ./$C/static_$cc"
    done
    run_test "header included twice, then with DL_IMPLEMENTATION (gcc c99)" \
        "need gcc && gcc -O2 $WARN_C -I. $T/twice.c -o $C/twice_gcc -lm && timeout 60 ./$C/twice_gcc"
    run_test "header included twice, then with DL_IMPLEMENTATION (g++ c++11)" \
        "need g++ && g++ -O2 $WARN_CXX -I. $T/twice.c -o $C/twice_gxx -lm && timeout 60 ./$C/twice_gxx"
    run_test "DL_NO_STDIO (gcc c99)" \
        "need gcc nm && gcc -O2 $WARN_C -I. -c $T/nostdio.c -o $C/nostdio.o &&
         no_stdio_symbols $C/nostdio.o && gcc $C/nostdio.o -o $C/nostdio -lm && timeout 60 ./$C/nostdio"
    run_test "DL_NO_STDIO (clang++ c++11)" \
        "need clang++ && clang++ -O2 $WARN_CXX -I. $T/nostdio.c -o $C/nostdio_cxx -lm && timeout 60 ./$C/nostdio_cxx"
    run_test "quickstart.c matches dl.h's 12-line program" quickstart_matches
    run_test "quickstart.c builds (gcc c99) and runs, status OK" \
        "need gcc && gcc -O2 $WARN_C -I. $T/quickstart.c -o $C/quickstart -lm && timeout $TIMEOUT ./$C/quickstart"
    # the test files must stay C++-clean (no designated initializers, no `= {0}` for
    # structs: g++ -Wextra flags missing field initializers); CXX_SUITE=0 leaves it out
    if [ "${CXX_SUITE:-1}" != 0 ]; then
        run_test "test suite built as C++11 (g++ -x c++) and run" \
            "need g++ && g++ -O2 $WARN_CXX -I. tests/main.c -o $B/test_main_cxx -lm &&
             timeout $TIMEOUT ./$B/test_main_cxx"
    fi
    run_test "PNG writer: files decode with Python's zlib + struct, same pixels" \
        "need gcc python3 && gcc -O2 $WARN_C -I. tests/png/write_pngs.c -o $C/write_pngs -lm &&
         rm -rf $C/png && mkdir -p $C/png && ./$C/write_pngs $C/png && python3 tests/png/check_png.py $C/png"
    for f in examples/*.c; do                  # built as `make examples` builds them
        [ -e "$f" ] || continue
        run_test "example $(basename "$f" .c) builds ($CC c99)" \
            "need ${CC%% *} && $CC -O2 $WARN_C -I. $f -o $C/example_$(basename "$f" .c) -lm"
    done
}

# ---- legs c, d: the suite under memory checkers (one test each) ---------------------
# checked_run NAME LOG BUILD RUN: passes when the build succeeds, the run exits 0 and the
# suite's line says 0 failed; the suite's counts are shown, not added to the total
checked_run() {
    local name=$1 log=$2 rc c
    if ! (eval "$3") > "$log" 2>&1; then fail "$name: build" "$log"; return; fi
    (eval "$4") > "$log" 2>&1
    rc=$?
    c=$(counts "$log")
    if [ "$rc" -eq 0 ] && [ -n "$c" ] && [ "${c#* }" = 0 ]; then
        pass "$name (${c% *} passed, 0 failed)"
    elif [ -n "$c" ]; then
        fail "$name (exit status $rc; suite: ${c% *} passed, ${c#* } failed)" "$log"
    else
        fail "$name (exit status $rc; no 'N passed, N failed' line)" "$log"
    fi
}

leg_asan() {
    checked_run "asan+ubsan suite" "$LOGS/asan.log" \
        "need gcc && gcc -O1 -g $SAN $WARN_C -I. tests/main.c -o $B/test_asan -lm" \
        "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 timeout $TIMEOUT ./$B/test_asan"
}

leg_valgrind() {
    checked_run "valgrind suite" "$LOGS/valgrind.log" \
        "need ${CC%% *} valgrind && $CC -O1 -g $WARN_C -I. tests/main.c -o $B/test_valgrind -lm" \
        "timeout $TIMEOUT valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect ./$B/test_valgrind"
}

# ---- legs e, f: the other kernel sets, emulated (one test each) ----------------------
# neon: the suite cross-built for AArch64 (NEON kernels chosen at compile time) and run
# under qemu-aarch64. sse2: the native x86-64 build run under qemu-x86_64 -cpu Nehalem,
# whose cpuid has no AVX, so every context picks the SSE2 kernels.
leg_neon() {
    checked_run "neon suite (aarch64 under qemu-aarch64)" "$LOGS/neon.log" \
        "need aarch64-linux-gnu-gcc qemu-aarch64 && aarch64-linux-gnu-gcc -O2 -static $WARN_C -I. tests/main.c -o $B/test_neon -lm" \
        "timeout $TIMEOUT qemu-aarch64 ./$B/test_neon"
}
leg_sse2() {
    checked_run "sse2 suite (x86-64 under qemu-x86_64 -cpu Nehalem)" "$LOGS/sse2.log" \
        "need gcc qemu-x86_64 && gcc -O2 $WARN_C -I. tests/main.c -o $B/test_sse2 -lm" \
        "timeout $TIMEOUT qemu-x86_64 -cpu Nehalem ./$B/test_sse2"
}

# ---- leg g: dl_cuda.h -----------------------------------------------------------------
# nvcc builds everything CUDA for sm_80 and sm_90 with warnings as errors; the CUDA suite
# runs emulated (the kernels on the CPU, one thread per block: see EMULATION in dl_cuda.h)
# and counts like the main suite; the real build runs too and says SKIP where no GPU is.
NVCC=${NVCC:-nvcc}
command -v "$NVCC" > /dev/null 2>&1 || NVCC=/usr/local/cuda/bin/nvcc
NVFLAGS="-O2 -std=c++14 -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -Werror all-warnings -Xcompiler -Wall,-Wextra -I. -Ibench"
leg_cuda() {
    mkdir -p $B/cuda
    run_test "nvcc sm_80+sm_90 -Werror: tests/cuda/test_cuda.cu" "need $NVCC && $NVCC $NVFLAGS tests/cuda/test_cuda.cu -o $B/cuda/test_cuda -lcublas"
    run_test "nvcc sm_80+sm_90 -Werror: examples/14_cuda_mlp.cu" "$NVCC $NVFLAGS examples/14_cuda_mlp.cu -o $B/cuda/14_cuda_mlp -lcublas"
    run_test "nvcc sm_80+sm_90 -Werror: bench/cuda_workloads.cu" "$NVCC $NVFLAGS bench/cuda_workloads.cu -o $B/cuda/cuda_workloads -lcublas"
    run_test "dl_cuda.o by nvcc, linked into C99 programs by gcc (examples/03 on the GPU, the README program)" \
        "$NVCC -O2 -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -Werror all-warnings -I. -x cu -DDL_CUDA_IMPLEMENTATION -c dl_cuda.h -o $B/cuda/dl_cuda.o && gcc $WARN_C -O2 -I. -D_POSIX_C_SOURCE=199309L -DEXAMPLE_BACKEND='dl_cuda_backend()' -include dl_cuda.h examples/03_fashion_mlp.c $B/cuda/dl_cuda.o -L/usr/local/cuda/lib64 -lcudart -lcublas -lstdc++ -lm -o $B/cuda/03_on_gpu && gcc $WARN_C -O2 -I. tests/compile/cuda_quickstart.c $B/cuda/dl_cuda.o -L/usr/local/cuda/lib64 -lcudart -lcublas -lstdc++ -lm -o $B/cuda/cuda_quickstart && ./$B/cuda/cuda_quickstart"
    run_test "CUDA suite on a GPU (SKIP when there is none)" "./$B/cuda/test_cuda | tail -n 3 && ./$B/cuda/test_cuda > /dev/null"
    local log=$LOGS/cuda_emu.log rc c
    if ! (need g++ && g++ -O1 -std=c++11 -Wall -Wextra -Werror -DDLC_EMULATE -I. -x c++ tests/cuda/test_cuda.cu -o $B/cuda/test_cuda_emu) > "$log" 2>&1; then
        fail "CUDA suite emulated: build (g++ -DDLC_EMULATE)" "$log"; return
    fi
    (timeout "$TIMEOUT" ./$B/cuda/test_cuda_emu; exit $?) > "$log" 2>&1
    rc=$?
    sed 's/^/    /' "$log"
    c=$(counts "$log")
    if [ -z "$c" ]; then fail "CUDA suite emulated: no 'N passed, N failed' line (exit status $rc)"; return; fi
    set -- $c
    add_counts "$1" "$2"
    if [ "$rc" -ne 0 ] && [ "$2" -eq 0 ]; then fail "CUDA suite emulated: exit status $rc with 0 failed"
    else echo "-- CUDA suite emulated: $1 passed, $2 failed"; fi
}

# ---- run ------------------------------------------------------------------------------
LEGS=${*:-$ALL_LEGS}
for leg in $LEGS; do
    if ! declare -F "leg_$leg" > /dev/null; then
        echo "unknown leg '$leg' (legs: $ALL_LEGS)"
        FAILED=$((FAILED + 1))
        continue
    fi
    echo "== $leg"
    t0=$SECONDS
    "leg_$leg"
    echo "-- $leg: $((SECONDS - t0)) s"
done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
