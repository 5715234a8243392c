#!/usr/bin/env bash
# One GPU session for the unconditional GANs: step speed of DCGAN (64 px, batch 64) and StyleGAN
# (64 px, batch 32), then DCGAN :cifar10 trained in segments, G exported after each, so that
# FID/KID can be measured where the judge lives (`--mode=eval --input=G.npz`).
#
#   bash benchmarks/run_gpu_gan.sh CIFAR10_DIR OUT_DIR "2000 4000"
set -uo pipefail
cd "$(dirname "$0")/.."
data=$1 out=$2 segments=${3:-"2000 4000"}
PY=${PY:-python3}
export PYTHONUNBUFFERED=1
mkdir -p "$out"
for config in ${SPEED_CONFIGS-configs/dcgan.py configs/stylegan.py}; do
  $PY benchmarks/gan_step.py --config=$config --repeats=${REPEATS:-30} 2>&1 \
    | grep -v '^[IW][0-9]\{4\} ' | tee -a "$out/speed_gpu_gan.txt"
done
for steps in $segments; do
  $PY main.py --config=configs/dcgan.py:cifar10 --workdir=/tmp/dcgan_cifar10 \
    --config.data.path="$data" --config.num_steps="$steps" --config.ckpt_every="$steps" \
    --config.sample_every="$steps" --config.data_threads=12 --config.log_every=250 \
    --config.tensorboard=false >> "$out/train.log" 2>&1
  $PY main.py --config=configs/dcgan.py:cifar10 --workdir=/tmp/dcgan_cifar10 --mode=export \
    --config.data.path="$data" --output="$out/dcgan_cifar10_$steps.npz" >> "$out/train.log" 2>&1
  echo "segment $steps: exit $?" | tee -a "$out/train.log"
done
cp "$(ls /tmp/dcgan_cifar10/samples/*.png | tail -1)" "$out/samples.png" 2>/dev/null
grep steps_per_s "$out/train.log" | tail -n 2
