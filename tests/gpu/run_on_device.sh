#!/bin/bash
# The one command for a GPU machine, from the project's root (with .whl/ and .gpu/ from ../shared/gpu/wheels.sh):
#   PYTHONUNBUFFERED=1 OUT=/some/dir bash tests/gpu/run_on_device.sh
# It ends within BUDGET seconds (default 300) and leaves at most 7 files in $OUT, none in a subfolder:
#   recorded.tar.gz   raw outputs of this machine (tests/gpu/record.sh), for tests that replay them on CPU;
#                     made first, since it is quick (~30 s) and the most lasting result
#   1-doctor.txt ... 6-bench-cache.txt   what .gpu/check.sh writes (doctor, selftest, make test-gpu, bench)
# Nothing is downloaded: the wheels carried in .whl/ are installed into /tmp/site exactly as check.sh does.
set -u
cd "$(dirname "$0")/../.." || exit 2
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT" || exit 2
TOTAL=${BUDGET:-300}
RECORD_MAX=${RECORD_MAX:-90}
say() { echo "[run_on_device ${SECONDS}s] $*"; }

if ls .whl/*.whl > /dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
else
  say "no .whl/ here: torchrig mirror's config writers will be missing (run ../shared/gpu/wheels.sh first)"
fi

work=$(mktemp -d /tmp/torchrig-recorded.XXXXXX) && mkdir "$work/recorded" || exit 2
say "recording this machine into $work/recorded (at most ${RECORD_MAX}s)"
timeout -k 5 "$RECORD_MAX" bash tests/gpu/record.sh "$work/recorded" > "$work/recorded/record.log" 2>&1 \
  || say "record.sh ended with status $? (what it recorded is kept)"
{ echo "run_on_device.sh on $(date -u +%FT%TZ) from $(git rev-parse HEAD 2>/dev/null || echo 'an unknown commit')"
  git status --short 2>/dev/null | head -n 20; } > "$work/recorded/provenance.txt"
tar -czf "$OUT/recorded.tar.gz" -C "$work" recorded && say "wrote $OUT/recorded.tar.gz ($(du -h "$OUT/recorded.tar.gz" | cut -f1))"
cut -f1-3 "$work/recorded/index.tsv" | sed 's/^/  /'
rm -rf "$work"

left=$(( TOTAL - SECONDS - 5 ))
if [ -f .gpu/check.sh ]; then
  say "running .gpu/check.sh with BUDGET=${left}"
  OUT="$OUT" BUDGET="$left" bash .gpu/check.sh
else
  say "no .gpu/check.sh (run ../shared/gpu/wheels.sh first); running make test-gpu alone"
  export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" NO_COLOR=1 COLUMNS=120
  { timeout -k 5 "$left" make test-gpu; echo "exit $?"; } > "$OUT/5-test-gpu.txt" 2>&1
  tail -n 5 "$OUT/5-test-gpu.txt"
fi
say "done; files in $OUT: $(ls "$OUT" | wc -l)"
