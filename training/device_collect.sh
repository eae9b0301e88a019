#!/usr/bin/env bash
# Put what training/device_train.sh left in $OUT into answers/reader_model/ (or $2), checked.
#
#   bash training/device_collect.sh <the run's files_at folder> [weights folder]
# Then: tests/test_reader.py, and the model card's and BENCHMARKS.md's figures from config.json.
set -euo pipefail
src=${1:?usage: device_collect.sh FILES_AT [WEIGHTS_DIR]}
dest=${2:-$(dirname "$0")/../answers/reader_model}
cat "$src"/reader.npz.part* >"$dest/reader.npz.new"
if ! (cd "$dest" && sed 's/reader\.npz$/reader.npz.new/' "$src/reader.npz.sha256" | sha256sum -c --quiet); then
    rm -f "$dest/reader.npz.new"
    exit 1
fi
mv "$dest/reader.npz.new" "$dest/reader.npz"
cp "$src/config.json" "$src/reference.json" "$dest/"
echo "$dest: reader.npz ($(du -h "$dest/reader.npz" | cut -f1)), config.json, reference.json"
