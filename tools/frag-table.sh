#!/usr/bin/env bash
# Replays every trace of the corpus (bench/traces/*.trace.gz) under every
# placement policy `mpgc policies` lists, and rewrites the tables of
# docs/fragmentation.md between its "frag-table" markers.
#
#   tools/frag-table.sh [MPGC-BINARY]      (default: build/mpgc, built if missing)
#
# For each trace and policy: `mpgc replay --sweep auto --kv` (every heap
# size from the trace's peak live bytes to 8 times it, in steps of 1/32 of
# it). Then, at one reference heap per trace (the smallest size from which
# every policy survives, or the sweep's top if some policy never does),
# `mpgc replay --heap REF --kv` gives the collections and the free-run
# figures. Writes the raw key=value lines to build/frag-table.txt too.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MPGC=${1:-$ROOT/build/mpgc}
if [ ! -x "$MPGC" ]; then
  cmake -S "$ROOT" -B "$ROOT/build" >/dev/null && cmake --build "$ROOT/build" -j2 --target mpgc_tool >/dev/null
fi
DOC=$ROOT/docs/fragmentation.md
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
RAW=$TMP/raw.txt
: >"$RAW"
policies=$("$MPGC" policies | cut -f1)
for gz in "$ROOT"/bench/traces/*.trace.gz; do
  name=$(basename "$gz" .trace.gz)
  gzip -dc "$gz" >"$TMP/$name.trace"
  ref=0; top=0
  for p in $policies; do
    line=$(cd "$TMP" && "$MPGC" replay --kv --sweep auto --policy "$p" "$name.trace")
    echo "sweep $line" >>"$RAW"
    st=$(sed -n 's/.* stable=\([0-9a-z]*\) .*/\1/p' <<<"$line")
    top=$(sed -n 's/.* hi=\([0-9]*\) .*/\1/p' <<<"$line")
    if [ "$st" = none ]; then ref=$top; elif [ "$ref" != "$top" ] && [ "$st" -gt "$ref" ]; then ref=$st; fi
  done
  for p in $policies; do
    echo "ref $(cd "$TMP" && "$MPGC" replay --kv --heap "$ref" --policy "$p" "$name.trace")" >>"$RAW"
  done
  rm -f "$TMP/$name.trace"
  echo "$name: done" >&2
done
mkdir -p "$ROOT/build"
cp "$RAW" "$ROOT/build/frag-table.txt"

# The tables, from the key=value lines.
awk -v policies="$(echo $policies)" '
function kv(line, key,   m) { if (match(line, " " key "=[^ ]*")) return substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 2); return "" }
function k(n) { return (n % 1024 == 0) ? (n / 1024) "K" : sprintf("%.1fK", n / 1024) }
{
  kind = $1; t = kv($0, "trace"); sub(/\.trace$/, "", t); p = kv($0, "policy")
  if (!(t in seen)) { seen[t] = 1; order[++nt] = t }
  if (kind == "sweep") {
    floor_[t] = kv($0, "floor"); ops[t] = kv($0, "ops"); allocs[t] = kv($0, "allocs"); src[t] = kv($0, "source")
    stable[t, p] = kv($0, "stable"); first[t, p] = kv($0, "first_ok"); fails[t, p] = kv($0, "fails_above")
    hi[t] = kv($0, "hi"); step[t] = kv($0, "step")
  } else {
    ref[t] = kv($0, "heap"); refok[t, p] = kv($0, "ok"); colls[t, p] = kv($0, "collections")
    rmean[t, p] = kv($0, "run_mean"); rmin[t, p] = kv($0, "run_min")
  }
}
END {
  np = split(policies, P, " ")
  # 1. the summary: smallest surviving heap / floor, per policy
  printf "| trace | allocations | floor (peak live) |"
  for (i = 1; i <= np; i++) printf " %s: survives from (x floor) |", P[i]
  printf "\n|---|---:|---:|"; for (i = 1; i <= np; i++) printf "---:|"; printf "\n"
  for (j = 1; j <= nt; j++) {
    t = order[j]
    printf "| %s | %d | %d B |", t, allocs[t], floor_[t]
    for (i = 1; i <= np; i++) {
      s = stable[t, P[i]]
      if (s == "none") printf " > %s |", k(hi[t]); else { printf " %s (%.2fx) |", k(s), s / floor_[t]; r[i, j] = s / floor_[t] }
    }
    printf "\n"
  }
  printf "| **median** | | |"
  for (i = 1; i <= np; i++) {
    n = 0; for (j = 1; j <= nt; j++) if ((i, j) in r) v[++n] = r[i, j]
    for (a = 1; a <= n; a++) for (b = a + 1; b <= n; b++) if (v[b] < v[a]) { x = v[a]; v[a] = v[b]; v[b] = x }
    med = n ? (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2) : 0
    printf " %.2fx (%d traces) |", med, n
  }
  printf "\n\n"
  # 2. the details
  printf "| trace | policy | survives from | smallest size that survives | failing sizes above it | reference heap | collections there | largest free run / free there: mean, min |\n"
  printf "|---|---|---:|---:|---|---:|---:|---:|\n"
  for (j = 1; j <= nt; j++) {
    t = order[j]
    for (i = 1; i <= np; i++) {
      p = P[i]; s = stable[t, p]; f = first[t, p]; fl = fails[t, p]
      out = ""; n = split(fl, F, ","); for (a = 1; a <= n; a++) out = out (a > 1 ? ", " : "") k(F[a])
      if (out == "") out = "none"
      printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", t, p, (s == "none" ? "> " k(hi[t]) : k(s)), (f == "none" ? "none" : k(f)), out,
        k(ref[t]) (refok[t, p] == 1 ? "" : " (fails)"), colls[t, p], (rmean[t, p] == "-" ? "-" : rmean[t, p] ", " rmin[t, p])
    }
  }
}' "$RAW" >"$TMP/table.md"

# Between the markers of docs/fragmentation.md.
if ! grep -q '<!-- frag-table begin -->' "$DOC" || ! grep -q '<!-- frag-table end -->' "$DOC"; then
  echo "frag-table.sh: $DOC has no frag-table markers" >&2
  exit 1
fi
awk -v table="$TMP/table.md" '
  /<!-- frag-table end -->/ { skip = 0 }
  !skip { print }
  /<!-- frag-table begin -->/ { while ((getline l < table) > 0) print l; skip = 1 }
' "$DOC" >"$TMP/doc.md"
cp "$TMP/doc.md" "$DOC"
echo "frag-table.sh: $(grep -c . "$TMP/table.md") table lines written to docs/fragmentation.md" >&2
