#!/bin/bash
# bench/w4.sh - WORKLOADS.md's W4 (char LSTM training step) with dl.h and PyTorch, side by
# side: the contenders run interleaved, round after round (dl, torch passive, torch active,
# dl, ...), each process doing WARMUP untimed steps then STEPS timed ones; the medians are
# over every timed step of every round. The peers run in their best configuration
# (WORKLOADS.md): OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset, glibc's malloc told to keep its
# memory, one OpenMP/BLAS thread per thread asked, and OMP_WAIT_POLICY both ways (passive,
# active): the faster one is the peer's figure. Peers: Debian's python3-torch
# (/usr/bin/python3) and, if it exists, the newest PyTorch in the venv at $TORCH_VENV
# (default /tmp/venv: python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch).
# dl.h is built with cc -O2 -march=native -pthread and runs with desc.threads = THREADS.
#
# Usage: bench/w4.sh                 env: ROUNDS (4) STEPS (10) WARMUP (3) MODE (train|infer)
#                                         THREADS (1) TORCH_VENV (/tmp/venv) CC (cc)
# Prints, per PyTorch version, its best configuration as
#   W4 threads=1 mode=train dl_ms=.. torch_ms=.. ratio=.. peer=torch-<version>,OMP_WAIT_POLICY=<p>
# with the details of every contender (GFLOP/s, peak RSS) on the lines starting with '#'.
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-4} STEPS=${STEPS:-10} WARMUP=${WARMUP:-3} MODE=${MODE:-train} THREADS=${THREADS:-1}
TORCH_VENV=${TORCH_VENV:-/tmp/venv}
CC=${CC:-cc}
mkdir -p build
$CC -O2 -march=native -pthread -I. bench/w4_lstm.c -lm -o build/w4_lstm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

peer_env=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE MALLOC_MMAP_THRESHOLD_=1073741824
          MALLOC_TRIM_THRESHOLD_=1073741824 OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
          MKL_NUM_THREADS=$THREADS)
names=(dl) pys=(-) waits=(-)
for py in /usr/bin/python3 "$TORCH_VENV/bin/python"; do
    [ -x "$py" ] && "$py" -c 'import torch' 2>/dev/null || { echo "# no torch at $py: skipped"; continue; }
    ver=$("$py" -c 'import torch; print(torch.__version__)')
    for w in passive active; do names+=("torch-$ver,OMP_WAIT_POLICY=$w"); pys+=("$py"); waits+=("$w"); done
done

echo "# W4 $MODE, $THREADS thread(s), $ROUNDS rounds x $STEPS timed steps after $WARMUP warm-up; $(uptime)"
for ((r = 1; r <= ROUNDS; r++)); do
    for i in "${!names[@]}"; do
        if [ "$i" = 0 ]; then
            out=$(build/w4_lstm "$STEPS" "$WARMUP" "$MODE" "$THREADS")
        else
            out=$("${peer_env[@]}" OMP_WAIT_POLICY="${waits[$i]}" "${pys[$i]}" bench/torch_w4.py "$STEPS" "$WARMUP" "$THREADS" "$MODE")
        fi
        echo "$out" | grep ' step_ms ' | sed 's/.* step_ms //' | tr ' ' '\n' >> "$tmp/$i.ms"
        echo "$out" | grep ' median_ms ' | sed 's/.*peak_rss_mib \([0-9.]*\).*/\1/' >> "$tmp/$i.rss"
        if [ "$r" = 1 ]; then echo "# round 1, ${names[$i]}: $(echo "$out" | grep ' median_ms ')"; fi
    done
done
echo "# after: $(uptime)"

median() { sort -g "$1" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# forward FLOPs: input GEMM + recurrent GEMM + output layer; a training step counts 3x
gflop=$(awk -v m="$MODE" 'BEGIN {f = 2 * 64 * 32 * (64 * 1024 + 256 * 1024 + 256 * 65) / 1e9; print (m == "train") ? 3 * f : f}')
declare -A med
for i in "${!names[@]}"; do
    med[$i]=$(median "$tmp/$i.ms")
    n=$(wc -l < "$tmp/$i.ms")
    rss=$(sort -g "$tmp/$i.rss" | tail -1)
    awk -v n="${names[$i]}" -v m="${med[$i]}" -v c="$n" -v g="$gflop" -v r="$rss" \
        'BEGIN {printf "# %-40s median %8.3f ms over %d steps, %6.1f GFLOP/s (%.3f GFLOP/step), peak RSS %.0f MiB\n", n, m, c, g / (m / 1e3), g, r}'
done
# per PyTorch version, its faster OMP_WAIT_POLICY
for ((i = 1; i < ${#names[@]}; i += 2)); do
    b=$i
    awk -v a="${med[$i]}" -v c="${med[$((i + 1))]}" 'BEGIN {exit !(c < a)}' && b=$((i + 1))
    awk -v t="$THREADS" -v m="$MODE" -v d="${med[0]}" -v p="${med[$b]}" -v n="${names[$b]}" \
        'BEGIN {printf "W4 threads=%s mode=%s dl_ms=%.2f torch_ms=%.2f ratio=%.3f peer=%s\n", t, m, d, p, d / p, n}'
done
