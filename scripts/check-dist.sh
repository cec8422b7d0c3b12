#!/usr/bin/env bash
# Install the wheel of a dist folder into a fresh virtual environment (with a
# constraints file) and run the console script outside the source tree: --version,
# then a small compose run on the synthetic demo pool, which reads the vendored
# continent layer. Usage: scripts/check-dist.sh [DIST] [CONSTRAINTS]
set -euo pipefail
dist=$(realpath "${1:-dist}")
constraints=$(realpath "${2:-constraints.txt}")
python=${PYTHON:-python3}
wheels=("$dist"/torchgeo_composition-*.whl)
if [ ! -f "${wheels[0]}" ]; then
    echo "error: no torchgeo_composition wheel in $dist; run make dist first" >&2
    exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -c "$constraints" "${wheels[0]}"
cd "$work"
./venv/bin/torchgeo-composition --version
./venv/bin/torchgeo-composition compose --pool SyntheticSentinel2Pool \
    --pool.root pool --pool.num_chips 60 --pool.size 8 --composition europe \
    --num_samples 6 --seed 0 --manifest_path sets/europe.parquet
test -s sets/europe.parquet
echo "check-dist: the wheel installs and runs ($(basename "${wheels[0]}"))"
