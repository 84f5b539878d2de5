#!/bin/bash
# bench/run_workloads.sh - WORKLOADS.md's W1-W5, dl.h (bench/workloads.c) against PyTorch
# (bench/torch_workloads.py), side by side in one run, training and inference, 1 and 2 threads.
#
# For each workload, thread count and mode it runs ROUNDS rounds of: dl.h, then the peer with
# OMP_WAIT_POLICY=passive, then with active (A B A B ...), each process WARMUP untimed steps
# then STEPS timed ones. The medians are over every timed step of every round. The peer keeps
# the faster of its two OpenMP policies (a policy whose first-round median is over 1.5x the
# other's is not run again in later rounds: it cannot win). One line per case:
#   W1 threads=1 mode=train dl_ms=.. torch_ms=.. ratio=.. peer=<torch version, OMP policy>
# ratio = dl_ms / torch_ms (below 1: dl.h is faster). Under each, a `#` line: parameter counts
# (they must agree: the script says MISMATCH otherwise), nominal GFLOP/s, peak RSS, first loss.
# At the end the geometric mean of the five 1-thread training ratios (then the other groups),
# and `vs_best` lines: dl.h on 2 threads against the peer's best time at any thread count run.
#
# The peer runs in its best configuration (WORKLOADS.md): OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset, MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ = 1 GiB, OMP_NUM_THREADS
# = OPENBLAS_NUM_THREADS = threads. Peers: Debian's torch (/usr/bin/python3) and, when it exists,
# the newer torch of the venv $TORCH_VENV (default /tmp/venv-torch); PEERS="python ..." overrides
# (e.g. PEERS="/usr/bin/python3 /tmp/venv/bin/python"). Each peer gets its own lines and geomean.
#
# Environment: QUICK=1 (smoke run: 1 round of 5 steps after 2 warm-up, ~2 minutes quiet, 3-4 busy),
#   ROUNDS (3), STEPS (10 per round), WARMUP (5), WORKLOADS ("W1 W2 W3 W4 W5"), THREADS ("1 2"),
#   MODES ("train infer"), CC (cc).
# A full run with one peer takes ~10 minutes on 2 cores (much of it `import torch`, 1.5-3 s a
# process); a second peer adds about as much again.
# Run from anywhere: make bench runs it after building.
set -u
cd "$(dirname "$0")/.." || exit 1

if [ "${QUICK:-0}" = 1 ]; then R_DEF=1; S_DEF=5; W_DEF=2; else R_DEF=3; S_DEF=10; W_DEF=5; fi
ROUNDS=${ROUNDS:-$R_DEF}; STEPS=${STEPS:-$S_DEF}; WARMUP=${WARMUP:-$W_DEF}
WORKLOADS=${WORKLOADS:-"W1 W2 W3 W4 W5"}; THREADS=${THREADS:-"1 2"}; MODES=${MODES:-"train infer"}
TORCH_VENV=${TORCH_VENV:-/tmp/venv-torch}
if [ -z "${PEERS:-}" ]; then
    PEERS=/usr/bin/python3
    [ -x "$TORCH_VENV/bin/python" ] && PEERS="$PEERS $TORCH_VENV/bin/python"
fi
BIN=build/bench_workloads
PEER_ENV=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824)

mkdir -p build
${CC:-cc} -O2 -march=native -pthread -I. bench/workloads.c -o "$BIN" -lm || { echo "build of bench/workloads.c failed" >&2; exit 1; }
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT

# ---- machine and peer configuration
echo "# machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) CPUs, $(uname -sr); $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# dl.h: $(${CC:-cc} --version | head -1), -O2 -march=native -pthread; dl_ctx_desc.threads = threads"
echo "# peer env: OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE unset; MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824; OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=threads; OMP_WAIT_POLICY passive and active, the faster kept"
echo "# rounds=$ROUNDS steps/round=$STEPS warmup=$WARMUP; ms = median over all timed steps; ratio = dl_ms / torch_ms (< 1: dl.h faster)"
n=0
for py in $PEERS; do
    n=$((n + 1))
    ver=$("${PEER_ENV[@]}" "$py" -c 'import torch; print(torch.__version__)' 2>/dev/null) || { echo "# peer $py: no torch, skipped"; continue; }
    echo "# peer $n: $py torch $ver; torch.__config__.show():"
    "${PEER_ENV[@]}" "$py" -c 'import torch; print(torch.__config__.show())' 2>/dev/null | head -8 | cut -c1-200 | sed 's/^/#   /'
    echo "$py $ver" >> "$TMP/peers"
done
[ -s "$TMP/peers" ] || { echo "no usable torch peer" >&2; exit 1; }

key() { sed -n "s/^$2 //p" "$1" | tail -1; }
median() { sort -g "$1" | awk '{a[NR] = $1} END {if (!NR) {print "nan"; exit} if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# runs one process, appends its step times to $1.steps, keeps its last output in $1.out
run_one() {
    local tag=$1; shift
    if "$@" < /dev/null > "$TMP/cur" 2> "$TMP/err"; then
        sed -n 's/^step_ms //p' "$TMP/cur" >> "$TMP/$tag.steps"
        cp "$TMP/cur" "$TMP/$tag.out"
        local rss; rss=$(key "$TMP/cur" peak_rss_kib)
        if [ -z "$(cat "$TMP/$tag.rss" 2>/dev/null)" ] || [ "$rss" -gt "$(cat "$TMP/$tag.rss")" ]; then echo "$rss" > "$TMP/$tag.rss"; fi
    else
        echo "# FAILED: $* : $(tail -2 "$TMP/err" | tr '\n' ' ')"
    fi
}

for W in $WORKLOADS; do
    for th in $THREADS; do
        for mode in $MODES; do
            rm -f "$TMP"/c_*
            for ((r = 1; r <= ROUNDS; r++)); do
                run_one c_dl "$BIN" "$W" "$mode" "$th" "$STEPS" "$WARMUP"
                p=0
                while read -r py ver; do
                    p=$((p + 1))
                    for pol in passive active; do
                        [ -e "$TMP/c_p${p}_$pol.drop" ] && continue
                        run_one "c_p${p}_$pol" "${PEER_ENV[@]}" OMP_NUM_THREADS="$th" OPENBLAS_NUM_THREADS="$th" OMP_WAIT_POLICY=$pol \
                            "$py" bench/torch_workloads.py "$W" "$mode" "$th" "$STEPS" "$WARMUP"
                    done
                    # after round 1, a policy 1.5x slower than the other cannot win: skip it
                    if [ "$r" = 1 ] && [ "$ROUNDS" -gt 1 ] && [ -s "$TMP/c_p${p}_passive.steps" ] && [ -s "$TMP/c_p${p}_active.steps" ]; then
                        a=$(median "$TMP/c_p${p}_passive.steps"); b=$(median "$TMP/c_p${p}_active.steps")
                        awk -v a="$a" -v b="$b" 'BEGIN {exit !(a > 1.5 * b)}' && touch "$TMP/c_p${p}_passive.drop"
                        awk -v a="$a" -v b="$b" 'BEGIN {exit !(b > 1.5 * a)}' && touch "$TMP/c_p${p}_active.drop"
                    fi
                done < "$TMP/peers"
            done
            dl_ms=$(median "$TMP/c_dl.steps" 2>/dev/null || echo nan)
            p=0
            while read -r py ver; do
                p=$((p + 1))
                best=; bpol=
                for pol in passive active; do
                    [ -s "$TMP/c_p${p}_$pol.steps" ] || continue
                    m=$(median "$TMP/c_p${p}_$pol.steps")
                    if [ -z "$best" ] || awk -v a="$m" -v b="$best" 'BEGIN {exit !(a < b)}'; then best=$m; bpol=$pol; fi
                done
                [ -n "$best" ] || best=nan
                ratio=$(awk -v a="$dl_ms" -v b="$best" 'BEGIN {if (a == "nan" || b == "nan" || b <= 0) print "nan"; else printf "%.3f", a / b}')
                printf '%s threads=%s mode=%s dl_ms=%.3f torch_ms=%.3f ratio=%s peer=torch-%s,OMP_WAIT_POLICY=%s\n' \
                    "$W" "$th" "$mode" "$dl_ms" "$best" "$ratio" "$ver" "${bpol:-none}"
                echo "$W $th $mode $ratio $ver" >> "$TMP/ratios"
                echo "$W $th $mode $dl_ms $best $ver" >> "$TMP/times"
                po="$TMP/c_p${p}_${bpol:-passive}.out"
                if [ -s "$TMP/c_dl.out" ] && [ -s "$po" ]; then
                    pd=$(key "$TMP/c_dl.out" params); pt=$(key "$po" params); fl=$(key "$TMP/c_dl.out" flop_per_step)
                    [ "$pd" = "$pt" ] && pm="params=$pd (both)" || pm="params MISMATCH dl=$pd torch=$pt"
                    [ "$fl" = "$(key "$po" flop_per_step)" ] || pm="$pm, flop_per_step MISMATCH"
                    awk -v pm="$pm" -v fl="$fl" -v a="$dl_ms" -v b="$best" -v ra="$(cat "$TMP/c_dl.rss")" \
                        -v rb="$(cat "$TMP/c_p${p}_${bpol:-passive}.rss")" -v la="$(key "$TMP/c_dl.out" loss0)" -v lb="$(key "$po" loss0)" \
                        -v pa="$(median "$TMP/c_p${p}_passive.steps" 2>/dev/null)" -v pc="$(median "$TMP/c_p${p}_active.steps" 2>/dev/null)" -v dr="$(cd "$TMP" && ls c_p${p}_*.drop 2>/dev/null | sed 's/.*_\(.*\)\.drop/ (\1: round 1 only)/')" \
                        'BEGIN {printf "#   %s; GFLOP/s dl=%.1f torch=%.1f; peak RSS MiB dl=%.1f torch=%.1f; loss0 dl=%s torch=%s; torch passive=%s active=%s ms%s\n",
                                pm, fl / a * 1e-6, fl / b * 1e-6, ra / 1024, rb / 1024, la, lb, pa, pc, dr}'
                fi
            done < "$TMP/peers"
        done
    done
done

# geometric means per peer: the five 1-thread training ratios first
while read -r py ver; do
    for g in "1 train" "1 infer" "2 train" "2 infer"; do
        set -- $g
        awk -v th="$1" -v mode="$2" -v ver="$ver" -v first="$g" '
            $2 == th && $3 == mode && $5 == ver && $4 != "nan" {s += log($4); n++; ws = ws " " $1}
            END {if (n) printf "%sgeomean threads=%s mode=%s ratio=%.3f over%s peer=torch-%s\n", (first == "1 train" ? "" : "# "), th, mode, exp(s / n), ws, ver}' "$TMP/ratios"
    done
done < "$TMP/peers"
# the 2-thread target: dl.h on 2 threads against the peer's best time at any thread count run
if [ -s "$TMP/times" ]; then
    while read -r py ver; do
        awk -v ver="$ver" '$6 == ver && $4 != "nan" && $5 != "nan" {
                k = $1 " " $3; if ($2 == 2) d2[k] = $4; if (!(k in tb) || $5 < tb[k]) {tb[k] = $5; tt[k] = $2} }
            END {for (k in d2) { split(k, a, " "); printf "vs_best %s mode=%s dl_2threads_ms=%.3f torch_best_ms=%.3f (threads=%s) ratio=%.3f peer=torch-%s\n",
                                 a[1], a[2], d2[k], tb[k], tt[k], d2[k] / tb[k], ver } }' "$TMP/times" | sort
    done < "$TMP/peers"
fi
echo "# done $(date -u '+%H:%M UTC'); load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
