#!/usr/bin/env bash
# Record the ready-made comparisons shipped under assets/recorded/ with idim's own CLI.
#
#   bash scripts/record_comparisons.sh            # all of them (about 20 minutes on a 2-core CPU)
#   bash scripts/record_comparisons.sh classic    # only the classic ones (about 3 minutes)
#
# Each NAME.json is the unedited output of `idim run ... --json`; NAME.md holds the command.
set -euo pipefail
cd "$(dirname "$0")/.."
IDIM=${IDIM:-.venv/bin/idim}
OUT=assets/recorded
HOME_DIR=$(mktemp -d)
trap 'rm -rf "$HOME_DIR"' EXIT
export HF_HUB_OFFLINE=1 IDIM_HOME="$HOME_DIR"
which=${1:-all}

record() {  # record NAME what... -- idim run options
  local name=$1 what=$2
  shift 2
  echo "recording $name: idim run $* --json" >&2
  local t0=$SECONDS
  "$IDIM" run "$@" --json --quiet > "$OUT/$name.json.part"
  mv "$OUT/$name.json.part" "$OUT/$name.json"
  {
    echo "# $name"
    echo
    echo "$what"
    echo
    echo "Recorded with this project's CLI on $(date -u +%Y-%m-%d) ($(nproc) CPU cores, $((SECONDS - t0)) s):"
    echo
    echo "    idim run $* --json"
  } > "$OUT/$name.md"
}

if [[ $which == all || $which == classic ]]; then
  record mlp-mnist5k "Li et al. (2018) fully connected net on 5,000 MNIST digits (the classic preset)." \
    --model mlp --task mnist5k
  record lenet-mnist5k "Li et al. (2018) LeNet on the same digits." --model lenet --task mnist5k
  record lenet-mnist5k-shuffled-pixels "LeNet with one fixed permutation of pixel positions." \
    --model lenet --task mnist5k --shuffle-pixels
  record mlp-mnist5k-shuffled-pixels "The fully connected net with the same pixel permutation." \
    --model mlp --task mnist5k --shuffle-pixels
  record mlp-mnist5k-shuffled-labels "The fully connected net memorising random labels (accuracy on the training images)." \
    --model mlp --task mnist5k --shuffle-labels --dims 10,100,1000,3000,10000,30000,100000
  record mlp-digits "The fully connected net on the 8x8 digits." --model mlp --task digits
  record lenet-digits "LeNet on the 8x8 digits." --model lenet --task digits
fi
if [[ $which == all || $which == lm ]]; then
  record minilm-l6-untrained-mr "The bundled architecture with random weights (no pre-training), default settings." \
    --model minilm-l6-untrained --task mr
  record minilm-l2-mr "The first 2 pretrained layers of the bundled model, default settings." \
    --model minilm-l2 --task mr
  record minilm-l6-mr "The bundled pretrained model, default settings (the same run as the recorded example)." \
    --model minilm-l6 --task mr
fi
