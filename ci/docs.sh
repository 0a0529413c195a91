#!/usr/bin/env bash
# The documentation site and the course, built as CI builds them. Installs nothing: run it after
#   pip install -e ".[test,docs]"
# 1. Sphinx builds the site with warnings as errors (-W), from a fresh environment (-E); myst-nb
#    executes the five course notebooks (the instructor version) during the build, and a failing
#    cell or check stops it. Figures are read from figures/, nothing expensive runs.
# 2. scripts/build_course.py writes the student and instructor .ipynb sets.
# 3. tests/test_docs.py checks the built site: every public name in the API reference, every
#    internal link resolves.
# Usage: bash ci/docs.sh [OUTDIR]      (default build/site; the site is OUTDIR/index.html)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-build/site}"
start=$SECONDS
python -m sphinx -W --keep-going -E -q -b html docs "$out"
echo "site built in $((SECONDS - start)) s: $out/index.html" >&2
course="$(mktemp -d)"
trap 'rm -rf "$course"' EXIT
python scripts/build_course.py "$course"
COARSEGRAD_SITE="$out" python -m pytest -q -p no:cacheprovider tests/test_docs.py -k site
echo "docs and course done in $((SECONDS - start)) s" >&2
