#!/usr/bin/env bash
# All speed measurements of benchmarks/RESULTS.md, on an otherwise idle machine:
#   bash benchmarks/run_speed.sh            (writes benchmarks/results/speed_<host>.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
out=benchmarks/results/speed_$(hostname).txt
{
  echo "# $(date -u)  $(nproc) cores  $($PY -c 'import jax; print("jax", jax.__version__, jax.devices())')"
  echo "## transposed convolution: nn.ConvTranspose vs UpConv2x"
  $PY benchmarks/conv_transpose.py
  echo "## StarGAN 128 px, batch 16 (paper config), D lowered with im2col (default on CPU)"
  $PY benchmarks/stargan_step.py --config=configs/stargan.py
  echo "## StarGAN 128 px, batch 16, D lowered with lax.conv"
  $PY benchmarks/stargan_step.py --config=configs/stargan.py --config.model.d_conv_impl=xla --repeats=2
  echo "## StarGAN :celeba64"
  $PY benchmarks/stargan_step.py --config=configs/stargan.py:celeba64
  echo "## StarGAN :synthetic, and one lax.cond program instead of two"
  $PY benchmarks/stargan_step.py --config=configs/stargan.py:synthetic --config.n_critic=5 --single_program
} 2>&1 | grep --line-buffered -v '^[IW][0-9]\{4\} ' | tee "$out"
