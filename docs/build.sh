#!/usr/bin/env bash
# Build the HTML documentation with warnings as errors, running every gallery
# example. Installs nothing: run it in an environment with the package and its
# `docs` extra installed (pip install -e ".[docs]").
#
#   bash docs/build.sh            # full build into docs/_build/html
#   bash docs/build.sh --clean    # remove previous outputs first
set -euo pipefail
cd "$(dirname "$0")"

if [[ "${1:-}" == "--clean" ]]; then
    rm -rf _build auto_examples gen_modules sg_execution_times.rst
fi

# Headless, single-threaded, offline: figures through Agg, one BLAS/torch
# thread per example (timings comparable across machines), no downloads.
export MPLBACKEND=Agg
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
export PYTHONWARNINGS="${PYTHONWARNINGS:-}"

start=$(date +%s)
python -m sphinx -W --keep-going -b html . _build/html
end=$(date +%s)
echo "docs built in $((end - start)) s: $(pwd)/_build/html/index.html"
