"""StarGAN train-step speed: median ms per D-only and D+G step, and compile times.

  python benchmarks/stargan_step.py --config=configs/stargan.py            # 128 px, batch 16
  python benchmarks/stargan_step.py --config=configs/stargan.py:celeba64
  python benchmarks/stargan_step.py --config=configs/stargan.py --single_program   # lax.cond

Runs the real compiled steps of the trainer (same code as main.py) on random data of the config's
shape, over all local devices. --single_program also times one program that picks the G update
with lax.cond (the alternative to two programs that the trainer does not use; see RESULTS.md).
"""

import os
import statistics
import sys
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
from ml_collections import config_flags
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.timing import time_variant  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan_jax import sharding
from gan_jax.trainers import loop
from gan_jax.trainers import stargan

config_flags.DEFINE_config_file('config', 'configs/stargan.py', 'StarGAN config.')
_REPEATS = flags.DEFINE_integer('repeats', 5, 'Timed steps per variant (median reported).')
_SINGLE = flags.DEFINE_bool('single_program', False, 'Also time a lax.cond single program.')


def single_program_step(steps, n_critic):
  """One program choosing D or D+G with lax.cond on the step count (for comparison only)."""
  def step(state, batch, key):
    return jax.lax.cond((state.step + 1) % n_critic == 0, steps['dg'], steps['d'],
                        state, batch, key)
  return step


def main(argv):
  del argv
  config = flags.FLAGS.config
  mesh = sharding.make_mesh()
  size, num_attrs, batch_size = config.data.image_size, len(config.data.attrs), config.batch_size
  generator, discriminator = stargan.build_models(config)
  g_tx, d_tx = stargan.make_optimizers(config)
  weights = stargan.LossWeights(**config.loss.to_dict())
  steps, _ = stargan.make_train_steps(generator, discriminator, g_tx, d_tx, weights,
                                      config.n_critic)
  task = loop.Task(init_state=stargan.make_init_state(generator, discriminator, g_tx, d_tx, size,
                                                      num_attrs),
                   train_steps=steps, loader=None)
  state = loop.init_state(task, 0, mesh)
  rng = np.random.default_rng(0)
  batch = sharding.global_batch({
      'image': rng.uniform(-1, 1, (batch_size, size, size, 3)).astype(np.float32),
      'label': (rng.random((batch_size, num_attrs)) > 0.5).astype(np.float32)}, mesh)
  key = sharding.replicate(jax.random.key(0), mesh)
  print(f'JAX {jax.__version__} on {jax.device_count()} x {jax.devices()[0].device_kind}; '
        f'{size} px, batch {batch_size}, g_conv_dim {config.model.g_conv_dim}, '
        f'g_repeat {config.model.g_repeat}, d_repeat {config.model.d_repeat}')
  results = {}
  for name in ('d', 'dg'):
    state, compile_s, step_s = time_variant(steps[name], mesh, state, batch, key,
                                            _REPEATS.value)
    results[name] = step_s
    print(f'  {name:>2} step: median {1e3 * step_s:9.1f} ms   compile {compile_s:6.1f} s')
  per_iteration = ((config.n_critic - 1) * results['d'] + results['dg']) / config.n_critic
  print(f'  mean per iteration with n_critic={config.n_critic}: {1e3 * per_iteration:.1f} ms')
  if _SINGLE.value:
    step = single_program_step(steps, config.n_critic)
    # state.step + 1 is a multiple of n_critic on this call: time the G branch.
    state = state.replace(step=jnp.asarray(config.n_critic - 1, jnp.int32))
    state = sharding.replicate(jax.device_get(state), mesh)
    compiled, compile_s = loop.compile_step(step, mesh, state, batch, key)
    times = []
    for _ in range(_REPEATS.value):
      state = sharding.replicate(jax.device_get(state).replace(
          step=np.asarray(config.n_critic - 1, np.int32)), mesh)
      start = time.perf_counter()
      state, metrics = compiled(state, batch, key)
      jax.block_until_ready(metrics)
      times.append(time.perf_counter() - start)
    print(f'  lax.cond single program, G branch: median {1e3 * statistics.median(times):.1f} ms '
          f'(compile {compile_s:.1f} s)')


if __name__ == '__main__':
  app.run(main)
