#!/usr/bin/env bash
# Build the conda package from recipe/recipe.yaml and install it into a fresh prefix, with no conda
# channel reachable: only Python, pip and PyPI. What this proves and what it cannot: docs/install.md.
#
#   bash recipe/build-offline.sh      ->  build/conda/out/noarch/torchrig-*.conda
#                                         build/conda/prefix/bin/torchrig
#
# Everything it makes stays under build/ (git-ignored: rattler-build copies the source tree minus
# what .gitignore names, so anything left elsewhere would end up in the next package). Running it
# again starts every step afresh and gives the same result; only the tool venv is kept while
# recipe/offline/requirements.txt is unchanged. Each step logs to build/conda/logs/; a failing step
# stops the script and prints its log.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
W=$ROOT/build/conda
PIPELINE=$ROOT/recipe/offline/pipeline.py
REQS=$ROOT/recipe/offline/requirements.txt
PYTHON=${PYTHON:-python3}
export RATTLER_CACHE_DIR=$W/cache PIP_DISABLE_PIP_VERSION_CHECK=1

rm -rf "$W/logs"
mkdir -p "$W/logs"
T_START=$SECONDS
STEP=0

# run_step NAME COMMAND...: run COMMAND with its output in logs/NN-NAME.log; print the time it took;
# on failure print the log and stop.
run_step() {
    local name=$1; shift
    STEP=$((STEP + 1))
    local log
    log=$(printf '%s/logs/%02d-%s.log' "$W" "$STEP" "$name")
    local t0=$SECONDS rc=0
    printf '[%2d] %-20s ' "$STEP" "$name"
    # In the background, not as `"$@" || rc=$?`: bash ignores `set -e` inside anything on the left
    # of `||`, so a failing command in the middle of a step would go unnoticed.
    "$@" >"$log" 2>&1 &
    wait $! || rc=$?
    if [ "$rc" -ne 0 ]; then
        printf 'FAILED (exit %d, %ds)\n' "$rc" "$((SECONDS - t0))"
        printf '\n----- %s (last 80 lines) -----\n' "${log#"$ROOT"/}"
        tail -n 80 "$log"
        printf -- '----- end of %s -----\n' "${log#"$ROOT"/}"
        echo "build-offline: step '$name' failed; the whole log is $log" >&2
        exit 1
    fi
    printf '%3ds\n' "$((SECONDS - t0))"
}

tools() {
    # The venv is reused while it was made by the same interpreter from the same pins.
    local stamp=$W/venv/.made-from want
    want=$({ "$PYTHON" -VV; cat "$REQS"; })
    if [ -x "$W/venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        echo "tool venv is current ($stamp)"
        return
    fi
    rm -rf "$W/venv"
    "$PYTHON" -m venv "$W/venv"
    # --no-deps: the file pins every package the tools need, so nothing unpinned comes in.
    "$W/venv/bin/python" -m pip install --quiet --no-deps --require-virtualenv -r "$REQS"
    "$W/venv/bin/python" -m pip check
    printf '%s\n' "$want" >"$stamp"
}

wheels() {
    rm -rf "$W/wheels"
    local reqs listed
    # Into a variable first: `< <(...)` would drop the command's exit status, even under pipefail.
    listed=$("$W/venv/bin/python" "$PIPELINE" requirements "$ROOT/pyproject.toml")
    mapfile -t reqs < <(printf '%s' "$listed")
    printf 'requirement: %s\n' "${reqs[@]}"
    # --only-binary: sdists would need building; every dependency here ships wheels.
    "$W/venv/bin/python" -m pip download --quiet --only-binary=:all: --dest "$W/wheels" "${reqs[@]}"
    ls "$W/wheels"
}

convert() {
    rm -rf "$W/channels/deps"
    mkdir -p "$W/channels/deps"
    "$W/venv/bin/python" "$PIPELINE" convert "$W/channels/deps" "$W"/wheels/*.whl
}

python_pkg() {
    rm -rf "$W/channels/python"
    mkdir -p "$W/channels/python"
    "$W/venv/bin/python" "$PIPELINE" python "$W/channels/python"
}

index() {
    "$W/venv/bin/python" "$PIPELINE" index "$W/channels/python" "$W/channels/deps"
}

build() {
    rm -rf "$W/out" "$W/cache"
    "$W/venv/bin/python" "$PIPELINE" build "$ROOT/recipe/recipe.yaml" "$W/out" \
        "$W/channels/python" "$W/channels/deps"
}

the_package() {
    local pkgs=("$W"/out/noarch/torchrig-*.conda)
    if [ "${#pkgs[@]}" -ne 1 ] || [ ! -f "${pkgs[0]}" ]; then
        echo "expected one torchrig package in build/conda/out/noarch, found: ${pkgs[*]}" >&2
        return 1
    fi
    echo "${pkgs[0]}"
}

scrub() {
    local pkg
    pkg=$(the_package)
    "$W/venv/bin/python" "$PIPELINE" scrub "$pkg" "$ROOT"
    "$W/venv/bin/python" "$PIPELINE" index "$W/out"
}

audit() {
    local pkg
    pkg=$(the_package)
    # Everything the build touched lives in the checkout (channels, work and test directories),
    # so its path is the one a leak would show.
    "$W/venv/bin/python" "$PIPELINE" audit "$pkg" "$ROOT/"
}

install() {
    rm -rf "$W/prefix" "$W/pkgs"
    local version
    version=$("$W/venv/bin/python" "$PIPELINE" version "$ROOT/pyproject.toml")
    "$W/venv/bin/python" "$PIPELINE" install "$W/prefix" "torchrig ==$version" \
        "$W/out" "$W/channels/python" "$W/channels/deps"
}

smoke() {
    # A clean environment: nothing from this shell (PATH, PYTHONPATH, VIRTUAL_ENV) may be what
    # makes the installed command work.
    env -i "$W/prefix/bin/torchrig" --version
    local rc=0
    env -i "$W/prefix/bin/torchrig" doctor --quick || rc=$?
    # 1 = the doctor found errors on this machine: a verdict about the machine, not the package.
    if [ "$rc" -gt 1 ]; then
        echo "torchrig doctor --quick exited $rc: the installed package is broken"
        return 1
    fi
    echo "torchrig doctor --quick exited $rc"
}

run_step tools tools
run_step download-wheels wheels
run_step convert-wheels convert
run_step repackage-python python_pkg
run_step index-channels index
run_step build-and-test build
run_step scrub-package scrub
run_step audit-package audit
run_step install-prefix install
run_step run-from-prefix smoke

# What the installed command said: its version, the doctor's verdict, the doctor's exit code.
smoke_log=$(printf '%s/logs/%02d-run-from-prefix.log' "$W" "$STEP")
head -n 2 "$smoke_log"
tail -n 1 "$smoke_log"
echo "build-offline: built $(cd "$W/out" && ls noarch/torchrig-*.conda), installed into build/conda/prefix in $((SECONDS - T_START))s"
