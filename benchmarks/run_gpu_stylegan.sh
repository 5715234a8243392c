#!/usr/bin/env bash
# One GPU session for issue 4's StyleGAN measurements (about 9 minutes on one H100):
#   1. three StyleGANs trained side by side for TRAIN_S seconds each, stopped by SIGTERM (the
#      loop checkpoints on it): :synthetic (32 px, for the edit-direction gate), :synthetic64
#      (64 px, for inversion PSNR) and, when CIFAR10_DIR is set, :cifar10; the 32 px and CIFAR
#      generators are also exported half way, for FID at two steps;
#   2. the generators exported (--mode=export), first, since they are what the session is for;
#   3. step speed of DCGAN (64 px, batch 64) and StyleGAN (64 px, batch 32), alone on the GPU;
#   4. the 64 px generator inverted (PSNR, seconds per image on the GPU).
# Stages 2-4 each get a time budget so that the whole script ends by DEADLINE seconds (default
# 560), inside the GPU tool's 10-minute limit for one command.
# Everything that is judged (directions and the 90/90 edit gate, FID) is then run where the
# judges live, on the exported .npz files (see benchmarks/RESULTS.md for the commands).
#
#   JUDGE=runs/cls_synth CIFAR10_DIR=DIR bash benchmarks/run_gpu_stylegan.sh OUT_DIR [TRAIN_S]
#
# JUDGE: a configs/classifier.py:synthetic workdir (FID over training of the 32 px run; optional:
# its checkpoint did not fit beside CIFAR-10 in the 64 MiB the GPU tool carries, so the
# 2026-11-27 run left it out and measured FID here on the exported generators).
# CIFAR10_DIR: a folder with CIFAR-10's train.zip (the test split is not needed here).
# DRY=1 shrinks the networks and the timed work, to rehearse the whole script on a CPU.
# Writes OUT_DIR/results.tar.gz (logs/: timeline, versions, speed, train/export/inversion logs;
# each run's samples/ and eval/; the inversion JSON and grid) and the generators as
# OUT_DIR/<run>.npz, a file over 15 MB split into <run>.npz.part-aa, -ab, ... (`cat` them back):
# at most 8 files, as the GPU tool returns.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$1 train_s=${2:-300}
PY=${PY:-python3}
runs=${RUNS:-/tmp/gpu_runs}
judge=${JUDGE:-}
cifar=${CIFAR10_DIR:-}
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
logs=$runs/logs
mkdir -p "$out" "$logs"
# Every stage after training gets at most `budget WANT RESERVE` seconds: WANT, or less so that
# RESERVE seconds are left before DEADLINE (seconds since the start) for the stages after it.
deadline=${DEADLINE:-560}
budget() {
  local t=$((deadline - SECONDS - $2))
  (( t > $1 )) && t=$1
  (( t < 5 )) && t=5
  echo $t
}
log() { echo "[$(date +%T) +${SECONDS}s] $*" | tee -a "$logs/timeline.txt"; }

common=(--config.tensorboard=false --config.data_threads=6 --config.log_every=500
        --config.num_steps=10000000 --config.sample_every=2000 --config.ckpt_every=1000)
speed_repeats=${REPEATS:-20} speed_extra=() invert=(--num_images=32 --batch_size=16)
eval_every=2000 eval_images=2000   # FID over training of the 32 px run, when JUDGE is set
if [[ ${DRY:-0} == 1 ]]; then   # a rehearsal on the CPU: tiny networks, few timed steps
  tiny=(--config.model.latent_dim=16 --config.model.w_dim=16 --config.model.mapping_depth=2
        --config.model.channel_base=128 --config.model.channel_max=16)
  common+=("${tiny[@]}" --config.log_every=2 --config.sample_every=4 --config.ckpt_every=4
           --config.batch_size=8)
  speed_repeats=2 speed_extra=("${tiny[@]}") eval_every=4 eval_images=16
  invert=(--num_images=4 --batch_size=2 --config.edit.invert_steps=3 "${tiny[@]}")
fi

$PY -c 'import jax, flax, optax, orbax.checkpoint, ml_collections
print("jax", jax.__version__, "flax", flax.__version__, "optax", optax.__version__,
      "orbax", orbax.checkpoint.__version__, jax.devices())' 2>&1 | tee "$logs/versions.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >> "$logs/versions.txt" 2>&1

# 1. Training, three runs side by side; each is stopped by SIGTERM (checkpoint saved) after
#    train_s seconds, or killed 60 s later if saving hangs.
train() {  # name config args...
  local name=$1 config=$2; shift 2
  log "train $name: start"
  timeout -s TERM -k 60 "$train_s" $PY main.py --config="$config" --workdir="$runs/$name" \
    "${common[@]}" "$@" > "$logs/train_$name.log" 2>&1
  log "train $name: exit $? (124 = stopped by SIGTERM at the time limit, as planned)"
}
export_g() {  # name config output: G (EMA) of the run's latest checkpoint, within a budget
  timeout -k 10 "$4" $PY main.py --config="$2" --workdir="$runs/$1" --mode=export "${common[@]}" \
    --output="$3" >> "$logs/export.log" 2>&1
  local rc=$?
  log "export $1 to ${3##*/}: exit $rc"
}
judged=()
[[ -n $judge ]] && judged=(--config.eval_every=$eval_every --config.eval.judge="$judge"
                           --config.eval.num_images=$eval_images)
# batch 64 on the GPU for all three (EMA half-life 10k images); the 32 px run is the config's
# StyleGAN otherwise, the 64 px run its :synthetic64 variant.
train sg32 configs/stylegan.py:synthetic --config.batch_size=64 --config.ema_decay=0.99557 \
  "${judged[@]}" &
train sg64 configs/stylegan.py:synthetic64 --config.batch_size=64 --config.ema_decay=0.99557 &
[[ -n $cifar ]] && train cifar10 configs/stylegan.py:cifar10 --config.data.path="$cifar" &
export_half() {  # name config: G of the latest checkpoint half way through training
  sleep $((train_s / 2))
  [[ -d $runs/$1 ]] || return
  export_g "$1" "$2" "$runs/$1_half.npz" 60
}
export_half sg32 configs/stylegan.py:synthetic &
export_half cifar10 configs/stylegan.py:cifar10 &
wait
log "training done"

# 2. The generators exported first: they are what this session is for.
for name_config in sg32:configs/stylegan.py:synthetic sg64:configs/stylegan.py:synthetic64 \
                   cifar10:configs/stylegan.py:cifar10; do
  name=${name_config%%:*} config=${name_config#*:}
  [[ -d $runs/$name ]] || continue
  export_g "$name" "$config" "$runs/$name.npz" "$(budget 60 120)"
done
# 3. Step speed, alone on the GPU.
for config in configs/dcgan.py configs/stylegan.py; do
  log "speed $config"
  [[ $config == *dcgan* ]] && want=(60 100) || want=(120 50)
  timeout -k 10 "$(budget "${want[@]}")" $PY benchmarks/gan_step.py --config=$config \
    --repeats="$speed_repeats" \
    $([[ $config == *stylegan* ]] && echo "${speed_extra[@]}") \
    2>&1 | grep -v '^[IW][0-9]\{4\} ' | tee -a "$logs/speed_gpu_stylegan.txt"
done

# 4. The 64 px inversion (PSNR and seconds per image on the GPU).
log "inversion sg64"
timeout -k 10 "$(budget 120 15)" $PY benchmarks/inversion_quality.py \
  --config=configs/stylegan.py:synthetic64 --workdir="$runs/sg64" "${invert[@]}" \
  --output="$runs/inversion_sg64/inversion.json" \
  > "$logs/inversion_sg64.log" 2>&1
log "inversion sg64: exit $?"

# 5. What comes back: logs, JSON, each run's last sample grid, and the generators (large ones
#    split).
for d in "$runs"/*/samples; do ls "$d"/*.png 2>/dev/null | head -n -1 | xargs -r rm; done
(cd "$runs" && tar czf "$out/results.tar.gz" --exclude=checkpoints --exclude='*.npz' \
  --exclude=tensorboard . ) 2>&1 | tail -2
for f in "$runs"/*.npz; do
  [[ -f $f ]] || continue
  if (( $(stat -c %s "$f") > 15000000 )); then
    split -b 15000000 "$f" "$out/$(basename "$f").part-"
  else
    cp "$f" "$out/"
  fi
done
log "done"
ls -la "$out"
for f in "$logs"/train_*.log; do
  echo "$f: $(grep -c 'steps_per_s' "$f") log lines"
  grep 'steps_per_s' "$f" | tail -n 1 | cut -c1-300
done
grep -h 'PSNR\|psnr\|per image' "$logs/inversion_sg64.log" | tail -n 5
cat "$logs/speed_gpu_stylegan.txt"
