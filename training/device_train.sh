#!/usr/bin/env bash
# Train reader variants side by side on a device machine (one NVIDIA H200) in one call, and bring
# their weights back.
#
# Here, first: bash training/device_prepare.sh (fills the git-ignored .devcarry/). Then one call of
# the device tool's run, in the checkout it sends:
#     command: bash training/device_train.sh    carry: [".devcarry"]    timeout_s: 480
# Each line of training/device_runs.txt (or $RUNS) is a variant: a name and train_reader arguments.
# All train at once on the one GPU (bf16 autocast, 4 CPU threads each; training ends by
# --max-minutes at the latest, then validates, tests and exports), and leave in $OUT:
#     NAME.npz.part00, NAME.npz.part01   each variant's weights, split under the tool's 16 MiB a file
#     runs.tgz                           each variant's config.json, reference.json, reader.npz.sha256
#                                        and log, and nvidia-smi with the versions (setup.log)
# Back here: bash training/device_collect.sh <files_at> NAME [folder] puts one variant's weights into
# answers/reader_model/ (or the folder) and recomputes its reference.json (training/reference.py).
# Exits non-zero when any variant fails; the others' files are in $OUT even then.
#
# Env: TINY=1 trains on a few questions (a CPU check of this script: OUT=/tmp/devout TINY=1);
# DEVICE (default cuda, with TINY auto); PYTHON (default python3); DEVCARRY (default .devcarry);
# RUNS (default training/device_runs.txt); MAX_MINUTES (default 4.5); LIMIT (seconds a variant may
# take in all, default 420).
set -uo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?OUT: the folder whose files come back}"
py=${PYTHON:-python3}
carry=${DEVCARRY:-.devcarry}
runs=${RUNS:-training/device_runs.txt}
work=$(mktemp -d)
mkdir -p "$OUT" "$work/logs"
if [[ ! -f $carry/squad.json || ! -f $carry/thr3.json || ! -f $carry/minilm/model.safetensors ]]; then
    echo "no $carry/squad.json, thr3.json or minilm: run training/device_prepare.sh, and carry $carry" >&2
    exit 1
fi

{
    date -u
    nvidia-smi || echo "(no nvidia-smi)"
    "$py" -c 'import sys, torch, transformers, tokenizers, safetensors, numpy
print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available(),
      "transformers", transformers.__version__, "tokenizers", tokenizers.__version__,
      "safetensors", safetensors.__version__, "numpy", numpy.__version__)'
} >"$work/logs/setup.log" 2>&1
cat "$work/logs/setup.log"

common=(--squad "$carry/squad.json" --base "$carry/minilm" --device "${DEVICE:-cuda}")
common+=(--threshold-from "$carry/thr3.json" --threads 4 --max-minutes "${MAX_MINUTES:-4.5}")
if [[ ${TINY:-} == 1 ]]; then  # the later flags win
    common+=(--device "${DEVICE:-auto}" --max-questions 24 --max-eval 24 --epochs 1 --batch 8)
fi
names=()
while read -r name rest; do
    [[ -z $name || $name == \#* ]] && continue
    names+=("$name")
    read -ra extra <<<"$rest"
    # the variant's own flags first: the common ones (TINY's sizes) win
    PYTHONUNBUFFERED=1 PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}" timeout "${LIMIT:-420}" \
        "$py" -m training.train_reader "${extra[@]}" "${common[@]}" --out "$work/$name" \
        >"$work/logs/$name.log" 2>&1 &
done <"$runs"
wait
failed=0
for name in "${names[@]}"; do
    echo "== $name"
    tail -n 40 "$work/logs/$name.log"
    if [[ -f $work/$name/config.json && -f $work/$name/reader.npz ]]; then
        (cd "$work/$name" && sha256sum reader.npz) >"$work/$name/reader.npz.sha256"
        split -b 15M -d "$work/$name/reader.npz" "$OUT/$name.npz.part"
        rm "$work/$name/reader.npz"
        mv "$work/logs/$name.log" "$work/$name/train.log"
    else
        failed=1
    fi
done
tar -czf "$OUT/runs.tgz" -C "$work" logs "${names[@]}" 2>/dev/null || tar -czf "$OUT/runs.tgz" -C "$work" logs
ls -l "$OUT"
exit $failed
