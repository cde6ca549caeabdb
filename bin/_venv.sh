# shellcheck shell=bash
# Shared by bin/start and bin/test (sourced, not run): make sure ./.venv exists with
# Python 3.11 and every pinned requirement, then put it first on PATH.
#
# The install is skipped while .venv/.requirements-stamp holds the sha256 of
# requirements.txt, so running either command again is quick. Set PYTHON to choose
# the interpreter used to create the venv (it must be Python 3.11).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
STAMP="$VENV/.requirements-stamp"

_is_py311() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' >/dev/null 2>&1
}

_find_python() {
    local candidate
    for candidate in ${PYTHON:-} python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && _is_py311 "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

_sha256() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        shasum -a 256 "$1" | cut -d' ' -f1
    fi
}

_venv_works() {
    # A venv whose creation stopped at ensurepip has a python but no pip: rebuild it.
    [ -x "$VENV/bin/python" ] && _is_py311 "$VENV/bin/python" \
        && "$VENV/bin/python" -m pip --version >/dev/null 2>&1
}

if ! _venv_works; then
    if ! PY="$(_find_python)"; then
        echo "error: Python 3.11 is required (tried: ${PYTHON:-} python3.11 python3)." >&2
        echo "       Install Python 3.11, or point PYTHON at it: PYTHON=/path/to/python3.11 $0" >&2
        exit 1
    fi
    if [ -e "$VENV" ]; then
        echo "==> .venv is not a working Python 3.11 venv; recreating it" >&2
        rm -rf "$VENV"
    fi
    if ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        echo "error: $PY cannot create virtual environments (no ensurepip)." >&2
        echo "       On Debian or Ubuntu: apt-get install python3.11-venv" >&2
        exit 1
    fi
    echo "==> creating .venv with $PY ($("$PY" --version 2>&1))" >&2
    "$PY" -m venv "$VENV"
fi

WANT="$(_sha256 requirements.txt)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
    echo "==> installing requirements.txt into .venv" >&2
    "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet -r requirements.txt
    echo "$WANT" >"$STAMP"
fi

export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:$PATH"
export PYTHONUNBUFFERED=1
