#!/usr/bin/env bash
# Train the reader on a device machine (one NVIDIA H200) in one call, and bring the weights back.
#
# Here, first: bash training/device_prepare.sh (fills the git-ignored .devcarry/). Then one call of
# the device tool's run, in the checkout it sends:
#     command: bash training/device_train.sh    carry: [".devcarry"]    timeout_s: 480
# It prints nvidia-smi and the versions, trains on CUDA (bf16 autocast; training ends by
# --max-minutes at the latest, then validates, tests and exports), and leaves in $OUT:
#     reader.npz.part00, reader.npz.part01  the weights, split under the tool's 16 MiB a file
#     reader.npz.sha256, config.json, reference.json, train.log
# Back here: bash training/device_collect.sh <files_at> puts them into answers/reader_model/.
# Exits non-zero when anything fails; train.log is in $OUT even then.
#
# Env: TINY=1 trains on a few questions (a CPU check of this script: OUT=/tmp/devout TINY=1);
# DEVICE (default cuda, with TINY auto); PYTHON (default python3); DEVCARRY (default .devcarry);
# EPOCHS, NEGATIVES, MAX_MINUTES, BATCH, LR override the sizes below.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?OUT: the folder whose files come back}"
py=${PYTHON:-python3}
carry=${DEVCARRY:-.devcarry}
work=$(mktemp -d)
log=$OUT/train.log
mkdir -p "$OUT"
if [[ ! -f $carry/squad.json || ! -f $carry/minilm/model.safetensors ]]; then
    echo "no $carry/squad.json or $carry/minilm: run training/device_prepare.sh, and carry $carry" | tee "$log" >&2
    exit 1
fi

{
    date -u
    nvidia-smi || echo "(no nvidia-smi)"
    "$py" -c 'import sys, torch, transformers, tokenizers, safetensors, numpy
print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available(),
      "transformers", transformers.__version__, "tokenizers", tokenizers.__version__,
      "safetensors", safetensors.__version__, "numpy", numpy.__version__)'
} 2>&1 | tee "$log"

# sizes: answers/reader_model/README.md, "Training on a device machine"
args=(--squad "$carry/squad.json" --base "$carry/minilm" --out "$work" --device "${DEVICE:-cuda}")
args+=(--epochs "${EPOCHS:-4}" --negatives "${NEGATIVES:-6}" --max-minutes "${MAX_MINUTES:-5}")
args+=(--lr "${LR:-5e-5}" --batch "${BATCH:-64}")
if [[ ${TINY:-} == 1 ]]; then  # the later flags win
    args+=(--device "${DEVICE:-auto}" --max-questions 24 --max-eval 24 --epochs 1 --batch 8)
fi
PYTHONUNBUFFERED=1 PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}" "$py" -m training.train_reader "${args[@]}" 2>&1 | tee -a "$log"

cp "$work/config.json" "$work/reference.json" "$OUT/"
(cd "$work" && sha256sum reader.npz) >"$OUT/reader.npz.sha256"
split -b 15M -d "$work/reader.npz" "$OUT/reader.npz.part"
ls -l "$OUT" | tee -a "$log"
