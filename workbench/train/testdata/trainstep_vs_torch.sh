#!/usr/bin/env bash
# Side-by-side timing of ptft's reference training step (BenchmarkTrainStep,
# ptft gradients) and its PyTorch twin (torch_reference_step.py), with 2 and
# 1 PyTorch threads, interleaved ROUNDS times so that both see the same
# machine load. Needs Debian's python3-torch and an optimised BLAS
# (libopenblas0-pthread; without it Debian's torch uses the reference BLAS
# and is 2-3x slower). Prints each figure's median and the two ratios.
# Usage: workbench/train/testdata/trainstep_vs_torch.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../../.."
rounds=${1:-5}
py=/usr/bin/python3
go test -c -o /tmp/ptft-train.test ./workbench/train
ptft=() t2=() t1=()
for _ in $(seq "$rounds"); do
  ptft+=("$(/tmp/ptft-train.test -test.run '^$' -test.bench 'TrainStep/ptft' -test.benchtime 40x | awk '/ns\/op/ {printf "%.1f", $3/1e6}')")
  t2+=("$($py workbench/train/testdata/torch_reference_step.py 2 40 | awk '{print $(NF-1)}')")
  t1+=("$($py workbench/train/testdata/torch_reference_step.py 1 40 | awk '{print $(NF-1)}')")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
p=$(median "${ptft[@]}"); a=$(median "${t2[@]}"); b=$(median "${t1[@]}")
echo "ptft (pure Go, $(go env GOARCH)): ${ptft[*]} ms, median $p"
echo "torch 2 threads:                  ${t2[*]} ms, median $a"
echo "torch 1 thread:                   ${t1[*]} ms, median $b"
awk -v p="$p" -v a="$a" -v b="$b" 'BEGIN {printf "ptft / torch-2-threads = %.2f, ptft / torch-1-thread = %.2f\n", p/a, p/b}'
