#!/usr/bin/env bash
# One GPU session: StarGAN step speed (128 px paper config and :celeba64), then :celeba64 trained
# for about TRAIN_S seconds from scratch and evaluated with the CelebA 64 px judge.
#
#   bash benchmarks/run_gpu.sh CELEBA_DIR JUDGE_WORKDIR OUT_DIR [TRAIN_S]
#
# CELEBA_DIR: images + list_attr_celeba.txt (../shared/data/celeba_89x109); JUDGE_WORKDIR: a
# configs/classifier.py:celeba64 workdir. The number of steps is set from the measured step time
# (60% of what TRAIN_S would allow, to leave room for data loading, checkpoints and samples), with
# the learning rate decayed linearly over its second half, so the schedule completes; a run that
# still overruns is stopped by SIGTERM (it checkpoints) and evaluated where it stopped.
# Writes OUT_DIR/{speed_gpu.txt,train.log,eval.log,report.html,eval.json,samples.png}.
set -uo pipefail
cd "$(dirname "$0")/.."
data=$1 judge=$2 out=$3 train_s=${4:-300}
PY=${PY:-python3}
REPEATS=${REPEATS:-50}
workdir=${WORKDIR:-/tmp/stargan_celeba64_gpu}
export PYTHONUNBUFFERED=1
mkdir -p "$out"

$PY -c 'import jax, flax, optax, chex, orbax.checkpoint
print("jax", jax.__version__, "flax", flax.__version__, "optax", optax.__version__, jax.devices())
' 2>&1 | tee "$out/speed_gpu.txt"
for variant in '' ':celeba64'; do
  echo "## configs/stargan.py$variant" | tee -a "$out/speed_gpu.txt"
  $PY benchmarks/stargan_step.py --config=configs/stargan.py$variant --repeats="$REPEATS" 2>&1 \
    | grep -v '^[IW][0-9]\{4\} ' | tee -a "$out/speed_gpu.txt"
done

ms=$(grep 'mean per iteration' "$out/speed_gpu.txt" | tail -1 | sed 's/.*: \([0-9.]*\) ms.*/\1/')
steps=$($PY -c "print(max(500, int($train_s * 1000 / $ms * 0.6) // 500 * 500))")
echo "celeba64: $ms ms per iteration -> training $steps steps" | tee -a "$out/speed_gpu.txt"
timeout -s TERM $((train_s + 60)) $PY main.py --config=configs/stargan.py:celeba64 \
  --workdir="$workdir" --config.data.path="$data" --config.num_steps="$steps" \
  --config.optim.decay_steps=$((steps / 2)) --config.data_threads=12 --config.log_every=100 \
  --config.sample_every=$((steps / 2)) --config.ckpt_every=$((steps / 2)) \
  --config.tensorboard=false > "$out/train.log" 2>&1
echo "train exit $?" | tee -a "$out/train.log"
sleep 5   # a SIGTERM'd run writes its checkpoint on the way out
$PY main.py --config=configs/stargan.py:celeba64 --workdir="$workdir" --mode=eval \
  --config.data.path="$data" --config.eval.judge="$judge" > "$out/eval.log" 2>&1
echo "eval exit $?" | tee -a "$out/eval.log"
cp "$workdir"/eval/report.html "$out/" 2>/dev/null
cp "$(ls "$workdir"/eval/*.json | tail -1)" "$out/eval.json" 2>/dev/null
cp "$(ls "$workdir"/samples/*.png | tail -1)" "$out/samples.png" 2>/dev/null
tail -n 3 "$out/train.log" "$out/eval.log"
