#!/usr/bin/env bash
# tools/size-report.sh - code size and RAM overhead of the engine on a
# Cortex-M4, checked against tools/size-limits.txt.
#
# Builds src/*.c (the engine only: not port/, tests/ or tools/) with
#   arm-none-eabi-gcc -std=c11 -Os -mthumb -mcpu=cortex-m4
# in four configurations:
#   lean         port/profile-lean.h: py/gc.c's minimal feature set
#                (minimal, and the mark stack's spill compiled out)
#   minimal      MPGC_ENABLE_FINALISERS/THRESHOLD/SPLIT_HEAP/LOCK_HOOKS/STATS/FIRST_FIT/PROGRESS/SNAPSHOT/STEPS=0
#   micropython  what MicroPython's fragment compiles: the defaults with
#                MPGC_ENABLE_LOCK_HOOKS/THRESHOLD/SAFE_ORDER=0
#   full         the defaults of include/mpgc_config.h (all of them on)
# and prints text/data/bss per file and in total (arm-none-eabi-size: every
# object, mpgc_check included), the text a firmware links (`linked`: the
# objects built with -ffunction-sections and linked with --gc-sections from
# every public function of include/mpgc.h but mpgc_check, which test builds
# call; libc's memset/memcpy/memmove left out, as a firmware has them), the
# largest functions (arm-none-eabi-nm --size-sort), and the RAM figures of
# the 32-bit target: the control block (sizeof(struct mpgc) and the size
# classes mpgc_init carves after it for a 64 KiB first region), the header
# of each pool, and the block tables per block. The RAM figures are read
# from a probe compiled with the same flags: arrays sized by sizeof(), whose
# symbol sizes nm reports.
#
# Exit status: 0 when every figure is within its limit, 1 when one exceeds
# it (or has no limit), 2 when the tools are missing. The issue's targets
# (rows "target" in the limits file) are printed with the gap, not enforced.
# Usage: tools/size-report.sh [-v | --by-function]
#   -v             every function, not the top 12
#   --by-function  only a Markdown table of every linked function's bytes
#                  per configuration, by file (docs/porting.md), no check
set -eu
cd "$(dirname "$0")/.."
CC=arm-none-eabi-gcc
SIZE=arm-none-eabi-size
NM=arm-none-eabi-nm
LIMITS=${MPGC_SIZE_LIMITS:-tools/size-limits.txt}
TOP=12
BYFN=0
case "${1:-}" in -v) TOP=1000 ;; --by-function) BYFN=1 ;; '') ;; *) echo "usage: $0 [-v | --by-function]"; exit 2 ;; esac
for t in $CC $SIZE $NM; do
  command -v "$t" >/dev/null 2>&1 || { echo "size-report: $t missing (apt-get install gcc-arm-none-eabi)"; exit 2; }
done

CFLAGS="-std=c11 -Os -mthumb -mcpu=cortex-m4"
WARN="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror"
MINIMAL="-DMPGC_ENABLE_FINALISERS=0 -DMPGC_ENABLE_THRESHOLD=0 -DMPGC_ENABLE_SPLIT_HEAP=0 -DMPGC_ENABLE_LOCK_HOOKS=0 -DMPGC_ENABLE_STATS=0 -DMPGC_ENABLE_FIRST_FIT=0 -DMPGC_ENABLE_PROGRESS=0 -DMPGC_ENABLE_SNAPSHOT=0 -DMPGC_ENABLE_STEPS=0"
LEAN="-DMPGC_CONFIG_FILE=\"profile-lean.h\" -Iport"
# What MicroPython's fragment compiles (integrations/micropython/mpgc).
MICROPYTHON="-DMPGC_ENABLE_LOCK_HOOKS=0 -DMPGC_ENABLE_THRESHOLD=0 -DMPGC_ENABLE_SAFE_ORDER=0"
CFGS="lean minimal micropython full"
# The roots of the link: the public API, but the checker.
API=$(grep -o '\bmpgc_[a-z_0-9]*(' include/mpgc.h | tr -d '(' | sort -u | grep -vx mpgc_check)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# What the RAM figures are made of, as symbol sizes.
cat >"$TMP/probe.c" <<'EOF'
#include "internal.h"
/* The control block of a heap whose first region has `region` bytes: the
 * struct and the index's classes, as mpgc_init carves them (heap.c). */
#define UB(region) (((region) - sizeof(struct mpgc)) / BLOCK)
#define LOG2(n) (31u - (unsigned)__builtin_clzl((unsigned long)(n)))
#define CB(region)                                                             \
    (sizeof(struct mpgc) +                                                     \
     sizeof(run_t *) * MPGC_FL_CLASSES(MPGC_CLASS_RANGED(UB(region), LOG2(UB(region)))))
char probe_control_block[CB(65536)];
char probe_control_block_16k[CB(16384)];
char probe_struct[sizeof(struct mpgc)];
char probe_pool_header[sizeof(pool_t)];
char probe_group_bytes[sizeof(group_t)];
char probe_group_blocks[W_BITS];
char probe_block_bytes[BLOCK];
char probe_cb_index[CB(65536) - sizeof(struct mpgc) + sizeof(((struct mpgc *)0)->binmap)];
char probe_cb_index_16k[CB(16384) - sizeof(struct mpgc) + sizeof(((struct mpgc *)0)->binmap)];
char probe_cb_mark_stack[sizeof(((struct mpgc *)0)->mark_stack)];
char probe_cb_roots[sizeof(((struct mpgc *)0)->roots)];
char probe_cb_config[sizeof(mpgc_config_t)];
EOF

declare -A FIG # figure name -> value (bytes)
symsize() { # object symbol -> decimal size
  $NM -S -t d "$1" | awk -v s="$2" '$4 == s { print $2 + 0 }'
}

undef=""
for s in $API; do undef="$undef -Wl,-u,$s"; done
for cfg in $CFGS; do
  case $cfg in lean) defs=$LEAN ;; minimal) defs=$MINIMAL ;; micropython) defs=$MICROPYTHON ;; *) defs="" ;; esac
  mkdir -p "$TMP/$cfg" "$TMP/$cfg.fs"
  for f in src/*.c; do
    o=$(basename "$f" .c).o
    $CC $CFLAGS $WARN $defs -Iinclude -c "$f" -o "$TMP/$cfg/$o"
    $CC $CFLAGS $defs -ffunction-sections -fdata-sections -Iinclude -c "$f" -o "$TMP/$cfg.fs/$o"
  done
  $CC $CFLAGS -nostdlib -Wl,--gc-sections -Wl,-e,mpgc_init -Wl,--unresolved-symbols=ignore-all $undef \
    "$TMP/$cfg.fs"/*.o -o "$TMP/$cfg.elf"
  $CC $CFLAGS $defs -Iinclude -Isrc -c "$TMP/probe.c" -o "$TMP/$cfg.probe.o"
  read -r text data bss < <($SIZE -t "$TMP/$cfg"/*.o | awk '/TOTALS/ { print $1, $2, $3 }')
  FIG[$cfg.text]=$text; FIG[$cfg.data]=$data; FIG[$cfg.bss]=$bss
  FIG[$cfg.linked]=$($SIZE -A "$TMP/$cfg.elf" | awk '$1 ~ /^\.text/ { t += $2 } END { print t + 0 }')
  FIG[$cfg.control_block]=$(symsize "$TMP/$cfg.probe.o" probe_control_block)
done

# Every linked function, by file: its bytes in each configuration.
by_function() {
  echo "| file | function | $(echo $CFGS | sed 's/ / | /g') |"
  echo "|---|---|$(for c in $CFGS; do printf -- '---:|'; done)"
  for f in src/*.c; do
    o=$(basename "$f" .c).o
    for cfg in $CFGS; do
      # functions of this object that the link kept, with their sizes
      $NM -S -t d --defined-only "$TMP/$cfg.fs/$o" | awk '$3 ~ /^[TtWw]$/ { print $4 }' | sort -u >"$TMP/names"
      $NM -S -t d "$TMP/$cfg.elf" | awk '$3 ~ /^[TtWw]$/ { print $4, $2 + 0 }' | sort -k1,1 |
        join - "$TMP/names" | awk -v c="$cfg" '{ print $1, c, $2 }'
    done
  done | awk -v cfgs="$CFGS" -v files="$(for f in src/*.c; do basename "$f"; done)" '
    { size[$1, $2] = $3; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
    END {
      nc = split(cfgs, c, " ")
      for (i = 1; i <= n; i++) { fn = order[i]; line = fn
        for (k = 1; k <= nc; k++) { v = size[fn, c[k]]; line = line " " (v == "" ? "-" : v) }
        print line }
    }' >"$TMP/byfn"
  for f in src/*.c; do
    o=$(basename "$f" .c).o
    # the functions defined in this file, largest (full: the last column) first
    for cfg in $CFGS; do $NM --defined-only "$TMP/$cfg.fs/$o"; done 2>/dev/null |
      awk '$2 ~ /^[TtWw]$/ { print $3 }' | sort -u >"$TMP/names"
    awk 'NR == FNR { want[$1] = 1; next } ($1 in want)' "$TMP/names" "$TMP/byfn" |
      sort -k5,5nr -k4,4nr -k3,3nr -k2,2nr -k1,1 | awk -v file="$(basename "$f")" '
        function n(x) { return x == "-" ? 0 : x }
        { line = "| " file " | `" $1 "` |"
          for (k = 2; k <= NF; k++) { line = line " " $k " |"; t[k] += n($k) }
          print line }
        END { if (NR) { line = "| " file " | **total** |"
                        for (k = 2; k <= NF; k++) line = line " **" t[k] "** |"
                        print line } }'
  done
  line="| all | **linked text** |"
  for cfg in $CFGS; do line="$line **${FIG[$cfg.linked]}** |"; done
  echo "$line"
}
if [ $BYFN = 1 ]; then
  by_function
  exit 0
fi
# The same table kept as comments at the end of the limits file (after
# its "by function" line): reported when it no longer matches, not failed.
byfn_note="current"
if grep -q '^# by function' "$LIMITS"; then
  by_function | sed 's/^/# /' >"$TMP/byfn.now"
  sed -n '/^# by function/,$p' "$LIMITS" | tail -n +2 >"$TMP/byfn.kept"
  cmp -s "$TMP/byfn.now" "$TMP/byfn.kept" ||
    byfn_note="out of date: regenerate it (tools/size-report.sh --by-function)"
else
  byfn_note="missing"
fi
P="$TMP/full.probe.o"
FIG[pool_header]=$(symsize "$P" probe_pool_header)
group=$(symsize "$P" probe_group_bytes); gblocks=$(symsize "$P" probe_group_blocks)
block=$(symsize "$P" probe_block_bytes)
# Table bits per block, and the tables as a fraction of the pool in 128ths.
FIG[meta_bits_per_block]=$((group * 8 / gblocks))
meta128=$(awk -v g="$group" -v n="$gblocks" -v b="$block" 'BEGIN { printf "%g", 128 * g / (n * b) }')
meta_pct=$(awk -v g="$group" -v n="$gblocks" -v b="$block" 'BEGIN { printf "%.3f", 100 * g / (n * b) }')
cb_16k=$(symsize "$P" probe_control_block_16k); cb_struct=$(symsize "$P" probe_struct)
cb_parts="free-run index $(symsize "$P" probe_cb_index) B ($(symsize "$P" probe_cb_index_16k) B at 16 KiB), mark stack $(symsize "$P" probe_cb_mark_stack) B,"
cb_parts="$cb_parts root slots $(symsize "$P" probe_cb_roots) B, config copy $(symsize "$P" probe_cb_config) B"

echo "mpgc engine on Cortex-M4: $($CC --version | head -n 1)"
echo "flags: $CFLAGS   (src/*.c only)"
echo "lean: port/profile-lean.h; minimal: MPGC_ENABLE_FINALISERS/THRESHOLD/SPLIT_HEAP/LOCK_HOOKS/STATS/FIRST_FIT/PROGRESS/SNAPSHOT/STEPS=0;"
echo "micropython: MPGC_ENABLE_LOCK_HOOKS/THRESHOLD/SAFE_ORDER=0 (MicroPython's fragment); full: defaults"
echo
row=""; row2=""
for cfg in $CFGS; do row="$row$(printf '%21s   ' "$cfg")"; row2="$row2$(printf '%7s%7s%7s   ' text data bss)"; done
printf '%-12s %s\n' "" "${row%   }"
printf '%-12s %s\n' file "${row2%   }"
for f in src/*.c; do
  o=$(basename "$f" .c).o
  row=""
  for cfg in $CFGS; do
    row="$row$($SIZE "$TMP/$cfg/$o" | awk 'NR == 2 { printf "%7d%7d%7d", $1, $2, $3 }')   "
  done
  printf '%-12s %s\n' "$(basename "$f")" "${row%   }"
done
row=""
for cfg in $CFGS; do row="$row$(printf '%7d%7d%7d   ' "${FIG[$cfg.text]}" "${FIG[$cfg.data]}" "${FIG[$cfg.bss]}")"; done
printf '%-12s %s\n' total "${row%   }"
row=""
for cfg in $CFGS; do row="$row$(printf '%7d%14s   ' "${FIG[$cfg.linked]}" "")"; done
printf '%-12s %s\n' linked "$row" | sed 's/ *$//'
echo "(linked: with --gc-sections from the public API but mpgc_check; tools/size-report.sh --by-function lists it)"
echo
for cfg in $CFGS; do
  echo "largest linked functions, $cfg (bytes):"
  $NM --size-sort -S -t d "$TMP/$cfg.elf" | awk '$3 ~ /^[TtWw]$/ { print $2 + 0, $4 }' |
    sort -k1,1nr -k2 | head -n "$TOP" | awk '{ printf "  %5d  %s\n", $1, $2 }'
done
echo
echo "RAM on the 32-bit target:"
echo "  control block  sizeof(struct mpgc) + the index's classes, a 64 KiB first region: ${FIG[minimal.control_block]} B minimal," \
  "${FIG[full.control_block]} B full; 16 KiB: $cb_16k B full (sizeof(struct mpgc) = $cb_struct B)"
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
echo "by-function table in $LIMITS: $byfn_note"
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
