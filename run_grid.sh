#!/usr/bin/env bash
# The whole study in one command: noisylabels/grid.py does the work (bash run_grid.sh --help); this finds a Python for it:
# PYTHON when set, else python3, else python.
case $0 in */*) dir=${0%/*} ;; *) dir=. ;; esac
here=$(CDPATH='' cd -- "$dir" > /dev/null && pwd) || exit 2
if [ -n "${PYTHON:-}" ]; then
    command -v "$PYTHON" > /dev/null && PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" -m noisylabels.grid "$@"
    echo "error: PYTHON=$PYTHON is not a command; set PYTHON to an interpreter (e.g. PYTHON=python3), or unset it" >&2
    exit 2
fi
for py in python3 python; do
    command -v "$py" > /dev/null && PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" exec "$py" -m noisylabels.grid "$@"
done
echo "error: run_grid.sh needs Python 3, and neither python3 nor python is on the PATH; install it, or set PYTHON=/path/to/python" >&2
exit 2
