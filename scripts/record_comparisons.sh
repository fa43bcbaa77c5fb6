#!/usr/bin/env bash
# Record the ready-made comparisons shipped under assets/recorded/ with idim's own CLI.
#
#   bash scripts/record_comparisons.sh            # all of them (about 20 minutes on a 2-core CPU)
#   bash scripts/record_comparisons.sh classic    # only the classic ones (about 5 minutes)
#   bash scripts/record_comparisons.sh lenet-digits   # one of them, by name
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

group=classic
record() {  # record NAME WHAT idim-run-options...
  local name=$1 what=$2
  shift 2
  [[ $which == all || $which == "$group" || $which == "$name" ]] || return 0
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

record mlp-mnist5k "Li et al. (2018) fully connected net on 5,000 MNIST digits (the classic preset)." \
  --model mlp --task mnist5k
record lenet-mnist5k "Li et al. (2018) LeNet on the same digits." --model lenet --task mnist5k
record lenet-mnist5k-shuffled-pixels "LeNet with one fixed permutation of pixel positions." \
  --model lenet --task mnist5k --shuffle-pixels
record mlp-mnist5k-shuffled-pixels "The fully connected net with the same pixel permutation." \
  --model mlp --task mnist5k --shuffle-pixels
record mlp-mnist5k-shuffled-labels "The fully connected net memorising random labels (accuracy on the training images).
A lower learning rate for z (0.03) than the classic default: with Adam every coordinate of z moves by about
the learning rate per step, so theta moves by about lr x sqrt(d), and at d >= 10,000 the default 0.1 made
training collapse to chance. At 0.03 it still collapses at d = 30,000 (and at d = 100,000 even 0.01 did):
the rate would have to shrink like 1/sqrt(d); read the curve up to d = 10,000." \
  --model mlp --task mnist5k --shuffle-labels --dims 10,100,1000,3000,10000,30000 --lr-subspace 0.03
record mlp-digits "The fully connected net on the 8x8 digits." --model mlp --task digits
record lenet-digits "LeNet on the 8x8 digits." --model lenet --task digits
group=lm
record minilm-l6-untrained-mr "The bundled architecture with random weights (no pre-training), default settings." \
  --model minilm-l6-untrained --task mr
record minilm-l2-mr "The first 2 pretrained layers of the bundled model, default settings." \
  --model minilm-l2 --task mr
record minilm-l6-mr "The bundled pretrained model, default settings (the same run as the recorded example)." \
  --model minilm-l6 --task mr
