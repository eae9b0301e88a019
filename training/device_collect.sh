#!/usr/bin/env bash
# Put one variant of what training/device_train.sh left in $OUT into answers/reader_model/ (or $3),
# checked, and recompute its reference.json with the package's base (training/reference.py).
#
#   bash training/device_collect.sh <the run's files_at folder> NAME [weights folder]
# Then: tests/test_reader.py, `python -m training.calibrate_reader thr3.json`, and the model card's
# and BENCHMARKS.md's figures from config.json. Env: PYTHON (default python), SQUAD (default
# ../shared/data/squad2/squad2-dev-half.json).
set -euo pipefail
src=${1:?usage: device_collect.sh FILES_AT NAME [WEIGHTS_DIR]}
name=${2:?usage: device_collect.sh FILES_AT NAME [WEIGHTS_DIR]}
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$(realpath -m "${3:-$root/answers/reader_model}")
squad=$(realpath "${SQUAD:-$root/../shared/data/squad2/squad2-dev-half.json}")
runs=$(mktemp -d)
tar -xzf "$src/runs.tgz" -C "$runs"
mkdir -p "$dest"
cat "$src/$name".npz.part* >"$dest/reader.npz.new"
if ! (cd "$dest" && sed 's/reader\.npz$/reader.npz.new/' "$runs/$name/reader.npz.sha256" | sha256sum -c --quiet); then
    rm -f "$dest/reader.npz.new"
    exit 1
fi
mv "$dest/reader.npz.new" "$dest/reader.npz"
cp "$runs/$name/config.json" "$dest/"
(cd "$root" && PYTHONPATH="$root" "${PYTHON:-python}" -m training.reference "$dest" --squad "$squad")
echo "$dest: reader.npz ($(du -h "$dest/reader.npz" | cut -f1)), config.json, reference.json"
