#!/usr/bin/env bash
# tools/size-report.sh - code size and RAM overhead of the engine on a
# Cortex-M4, checked against tools/size-limits.txt.
#
# Builds src/*.c (the engine only: not port/, tests/ or tools/) with
#   arm-none-eabi-gcc -std=c11 -Os -mthumb -mcpu=cortex-m4
# in two configurations:
#   minimal  MPGC_ENABLE_FINALISERS/THRESHOLD/SPLIT_HEAP/LOCK_HOOKS/STATS/FIRST_FIT/PROGRESS/SNAPSHOT/STEPS=0
#   full     the defaults of include/mpgc_config.h (all of them on)
# and prints text/data/bss per file and in total (arm-none-eabi-size), the
# largest functions (arm-none-eabi-nm --size-sort), and the RAM figures of
# the 32-bit target: the control block (sizeof(struct mpgc)), the header
# of each pool, and the block tables per block. The RAM figures are read
# from a probe compiled with the same flags: arrays sized by sizeof(), whose
# symbol sizes nm reports.
#
# Exit status: 0 when every figure is within its limit, 1 when one exceeds
# it (or has no limit), 2 when the tools are missing. The issue's targets
# (rows "target" in the limits file) are printed with the gap, not enforced.
# Usage: tools/size-report.sh [-v]     (-v: every function, not the top 12)
set -eu
cd "$(dirname "$0")/.."
CC=arm-none-eabi-gcc
SIZE=arm-none-eabi-size
NM=arm-none-eabi-nm
LIMITS=${MPGC_SIZE_LIMITS:-tools/size-limits.txt}
TOP=12
[ "${1:-}" = -v ] && TOP=1000
for t in $CC $SIZE $NM; do
  command -v "$t" >/dev/null 2>&1 || { echo "size-report: $t missing (apt-get install gcc-arm-none-eabi)"; exit 2; }
done

CFLAGS="-std=c11 -Os -mthumb -mcpu=cortex-m4"
WARN="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror"
MINIMAL="-DMPGC_ENABLE_FINALISERS=0 -DMPGC_ENABLE_THRESHOLD=0 -DMPGC_ENABLE_SPLIT_HEAP=0 -DMPGC_ENABLE_LOCK_HOOKS=0 -DMPGC_ENABLE_STATS=0 -DMPGC_ENABLE_FIRST_FIT=0 -DMPGC_ENABLE_PROGRESS=0 -DMPGC_ENABLE_SNAPSHOT=0 -DMPGC_ENABLE_STEPS=0"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# What the RAM figures are made of, as symbol sizes.
cat >"$TMP/probe.c" <<'EOF'
#include "internal.h"
char probe_control_block[sizeof(struct mpgc)];
char probe_pool_header[sizeof(pool_t)];
char probe_group_bytes[sizeof(group_t)];
char probe_group_blocks[W_BITS];
char probe_block_bytes[BLOCK];
char probe_cb_index[sizeof(((struct mpgc *)0)->bins) + sizeof(((struct mpgc *)0)->binmap)];
char probe_cb_mark_stack[sizeof(((struct mpgc *)0)->mark_stack)];
char probe_cb_roots[sizeof(((struct mpgc *)0)->roots)];
char probe_cb_config[sizeof(mpgc_config_t)];
EOF

declare -A FIG # figure name -> value (bytes)
symsize() { # object symbol -> decimal size
  $NM -S -t d "$1" | awk -v s="$2" '$4 == s { print $2 + 0 }'
}

for cfg in minimal full; do
  defs=""; [ $cfg = minimal ] && defs=$MINIMAL
  mkdir -p "$TMP/$cfg"
  for f in src/*.c; do
    $CC $CFLAGS $WARN $defs -Iinclude -c "$f" -o "$TMP/$cfg/$(basename "$f" .c).o"
  done
  $CC $CFLAGS $defs -Iinclude -Isrc -c "$TMP/probe.c" -o "$TMP/$cfg.probe.o"
  read -r text data bss < <($SIZE -t "$TMP/$cfg"/*.o | awk '/TOTALS/ { print $1, $2, $3 }')
  FIG[$cfg.text]=$text; FIG[$cfg.data]=$data; FIG[$cfg.bss]=$bss
  FIG[$cfg.control_block]=$(symsize "$TMP/$cfg.probe.o" probe_control_block)
done
P="$TMP/full.probe.o"
FIG[pool_header]=$(symsize "$P" probe_pool_header)
group=$(symsize "$P" probe_group_bytes); gblocks=$(symsize "$P" probe_group_blocks)
block=$(symsize "$P" probe_block_bytes)
# Table bits per block, and the tables as a fraction of the pool in 128ths.
FIG[meta_bits_per_block]=$((group * 8 / gblocks))
meta128=$(awk -v g="$group" -v n="$gblocks" -v b="$block" 'BEGIN { printf "%g", 128 * g / (n * b) }')
meta_pct=$(awk -v g="$group" -v n="$gblocks" -v b="$block" 'BEGIN { printf "%.3f", 100 * g / (n * b) }')
cb_parts="free-run index $(symsize "$P" probe_cb_index) B, mark stack $(symsize "$P" probe_cb_mark_stack) B,"
cb_parts="$cb_parts root slots $(symsize "$P" probe_cb_roots) B, config copy $(symsize "$P" probe_cb_config) B"

echo "mpgc engine on Cortex-M4: $($CC --version | head -n 1)"
echo "flags: $CFLAGS   (src/*.c only)"
echo "minimal: MPGC_ENABLE_FINALISERS/THRESHOLD/SPLIT_HEAP/LOCK_HOOKS/STATS/FIRST_FIT/PROGRESS=0; full: defaults"
echo
printf '%-12s %21s   %21s\n' "" "minimal" "full"
printf '%-12s %7s%7s%7s   %7s%7s%7s\n' file text data bss text data bss
for f in src/*.c; do
  o=$(basename "$f" .c).o
  m=$($SIZE "$TMP/minimal/$o" | awk 'NR == 2 { printf "%7d%7d%7d", $1, $2, $3 }')
  u=$($SIZE "$TMP/full/$o" | awk 'NR == 2 { printf "%7d%7d%7d", $1, $2, $3 }')
  printf '%-12s %s   %s\n' "$(basename "$f")" "$m" "$u"
done
printf '%-12s %7d%7d%7d   %7d%7d%7d\n' total "${FIG[minimal.text]}" "${FIG[minimal.data]}" \
  "${FIG[minimal.bss]}" "${FIG[full.text]}" "${FIG[full.data]}" "${FIG[full.bss]}"
echo
for cfg in minimal full; do
  echo "largest functions, $cfg (bytes):"
  $NM --size-sort -S -t d "$TMP/$cfg"/*.o | awk '$3 ~ /^[TtWw]$/ { print $2 + 0, $4 }' |
    sort -k1,1nr -k2 | head -n "$TOP" | awk '{ printf "  %5d  %s\n", $1, $2 }'
done
echo
echo "RAM on the 32-bit target:"
echo "  control block  sizeof(struct mpgc) = ${FIG[minimal.control_block]} B minimal, ${FIG[full.control_block]} B full (in the first region)"
echo "                 of which $cb_parts"
echo "  pool header    sizeof(pool_t) = ${FIG[pool_header]} B per region, plus < $block B alignment padding"
echo "  block tables   $group B per $gblocks blocks of $block B = ${FIG[meta_bits_per_block]} bits per block" \
  "= $meta128/128 of the pool ($meta_pct %)"
echo

# Every figure needs a limit; a figure above its limit fails. "target"
# rows are the goals of the issue, printed with the gap, never failing.
status=0
declare -A LIM
targets=()
while read -r name value rest; do
  case "$name" in ''|'#'*) continue ;; target) targets+=("$value $rest"); continue ;; esac
  LIM[$name]=$value
done <"$LIMITS"
if [ ${#targets[@]} -gt 0 ]; then
  echo "targets ($LIMITS):"
  for t in "${targets[@]}"; do
    read -r name value why <<<"$t"
    v=${FIG[$name]:-?}
    if [ "$v" = "?" ]; then echo "  $name: unknown figure"; status=1
    elif [ "$v" -le "$value" ]; then echo "  $name = $v <= $value: met ($why)"
    else echo "  $name = $v > $value: not met, +$((v - value)) ($why)"; fi
  done
fi
echo "limits ($LIMITS):"
for name in $(printf '%s\n' "${!FIG[@]}" | sort); do
  v=${FIG[$name]}
  if [ -z "${LIM[$name]:-}" ]; then
    echo "  $name = $v: no limit in $LIMITS"; status=1
  elif [ "$v" -gt "${LIM[$name]}" ]; then
    echo "  $name = $v > ${LIM[$name]}: FAIL"; status=1
  else
    echo "  $name = $v <= ${LIM[$name]}: ok"
  fi
done
exit $status
