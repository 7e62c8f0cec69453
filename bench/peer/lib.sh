# Shared by the compare_*.sh scripts (sourced): runs one measured process and records it.
#   measure LABEL JSON_OUT -- COMMAND...
# runs COMMAND under /usr/bin/time -v (its peak RSS: "Maximum resident set size"), prints its stdout, and appends
# one line to $RUNS: {"label", "json" (the program's own --json output, if it wrote one), "peak_rss_kib", "wall_s",
# "load1" (the 1-minute load average when it started)}. bench/peer/summarize.py turns $RUNS into the tables.
# Needs: RUNS (a file), WORK (a folder).
measure() {
  local label=$1 json=$2
  shift 3   # LABEL JSON --
  local timing="$WORK/time.txt" load
  load=$(cut -d' ' -f1 /proc/loadavg)
  if ! /usr/bin/time -v -o "$timing" "$@" > "$WORK/stdout.txt" 2> "$WORK/stderr.txt"; then
    cat "$WORK/stdout.txt" "$WORK/stderr.txt" >&2
    echo "FAILED: $label: $*" >&2
    return 1
  fi
  { grep -v '^$' "$WORK/stdout.txt" || true; } | sed -n "1,${MEASURE_LINES:-40}p" | sed "s/^/  [$label] /"
  local rss wall
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): \([0-9]*\).*/\1/p' "$timing")
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): \(.*\)/\1/p' "$timing" |
         awk -F: '{s = 0; for (i = 1; i <= NF; ++i) s = s * 60 + $i; print s}')
  printf '{"label": "%s", "json": "%s", "peak_rss_kib": %s, "wall_s": %s, "load1": %s, "stdout": "%s"}\n' \
    "$label" "$json" "$rss" "$wall" "$load" "$(tr '\n"\\' ' ' < "$WORK/stdout.txt" | cut -c1-2000)" >> "$RUNS"
}

# The Python environments that exist, as "name=python" words: the PyPI torch venv and the one over Debian's
# python3-torch (scripts/peer_setup.sh makes both where it can). PEERS="pypi debian" picks.
peer_pythons() {
  local venv="${BG2VEC_PEER_VENV:-$PWD/.venv-peer}" want="${PEERS:-pypi debian}" out=()
  for p in $want; do
    case $p in
      pypi) [ -x "$venv/bin/python" ] && out+=("pypi=$venv/bin/python") ;;
      debian) [ -x "$venv/debian/bin/python" ] && out+=("debian=$venv/debian/bin/python") ;;
    esac
  done
  echo "${out[@]}"
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# run_jobs REPEAT PREFIX JOB...: each JOB is "LABEL|JSON|COMMAND" (the command split on spaces); in order on even
# repeats and in reverse on odd ones, so that neither side always runs first.
run_jobs() {
  local r=$1 prefix=$2 n i label json cmd
  shift 2
  n=$#
  local all=("$@")
  for ((i = 0; i < n; ++i)); do
    local k=$i
    ((r % 2)) && k=$((n - 1 - i))
    IFS='|' read -r label json cmd <<< "${all[k]}"
    measure "$prefix $label" "$json" -- $cmd
  done
}
