#!/usr/bin/env bash
# Fill .devcarry/ for training/device_train.sh: what a device machine (GPU) needs and lacks.
#
#   bash training/device_prepare.sh        # in the checkout the device tool sends (the session's own)
#
# .devcarry/squad.json     the SQuAD 2.0 file (../shared does not travel)
# .devcarry/news-all.json  every written news training file (training/data/news: h1-h4, h6-h17,
#                          h20-h31; never h5, h18 or h19, which pick thresholds or are evaluated)
# .devcarry/thr3.json      the threshold file: h5's articles 0-4 and h18
# .devcarry/minilm/        a slim copy of the bundled MiniLM base (training/base_weights.py) holding
#                          the word pieces of all three, their rows in float16 (device_collect.sh
#                          recomputes reference.json with the exact ones): the package's own
#                          files are over the device tool's 64 MiB limit on their own
# .devcarry/ is git-ignored through .git/info/exclude, never committed; it travels only when named in
# the run's carry. Env: PYTHON (default python), SQUAD (default ../shared/data/squad2/squad2-dev-half.json),
# DEVCARRY (default .devcarry; another folder is not added to .git/info/exclude).
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python}
squad=${SQUAD:-../shared/data/squad2/squad2-dev-half.json}
carry=${DEVCARRY:-.devcarry}
news=training/data/news

if [[ $carry == .devcarry ]]; then
    exclude="$(git rev-parse --git-common-dir)/info/exclude"
    mkdir -p "$(dirname "$exclude")"
    grep -qxF '/.devcarry/' "$exclude" 2>/dev/null || echo '/.devcarry/' >>"$exclude"
fi
[[ -f $squad ]] || { echo "no SQuAD file at $squad (set SQUAD)" >&2; exit 1; }
rm -rf "$carry"
mkdir -p "$carry"
cp "$squad" "$carry/squad.json"
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"
"$py" -m training.newsqa $news/h{1,2,3,4,6,7,8,9,10,11,12,13,14,15,16,17}.json $news/h{20..31}.json \
    --out "$carry/news-all.json"
"$py" -m training.newsqa $news/h5.json --articles 0:5 --out "$carry/h5-val.json"
"$py" -m training.newsqa $news/h18.json --out "$carry/h18.json"
"$py" -c 'import sys; from pathlib import Path; from training.squad import load, save
print(save(Path(sys.argv[-1]), [a for p in sys.argv[1:-1] for a in load(Path(p))], "v2.0"))' \
    "$carry/h5-val.json" "$carry/h18.json" "$carry/thr3.json"
rm "$carry/h5-val.json" "$carry/h18.json"
"$py" -m training.base_weights --squad "$carry/squad.json" --squad "$carry/news-all.json" \
    --squad "$carry/thr3.json" --rows float16 --out "$carry/minilm"

# what the run sends: tracked and untracked-not-ignored files, plus the carried folder
sent=$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r du -cb 2>/dev/null | tail -1 | cut -f1)
carried=$(du -sb "$carry" | cut -f1)
total=$(((sent + carried) / 1048576))
echo "working tree $((sent / 1048576)) MiB + $carry $((carried / 1048576)) MiB = $total MiB (the limit is 64)"
if ((total >= 64)); then
    echo "over the device tool's 64 MiB: leave less in the working tree" >&2
    exit 1
fi
