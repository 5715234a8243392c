"""Unconditional GAN train-step speed (configs with trainer 'gan', e.g. DCGAN).

  python benchmarks/gan_step.py --config=configs/dcgan.py                  # 64 px, batch 64
  python benchmarks/gan_step.py --config=configs/dcgan.py --impls=xla,hybrid,im2col

Median ms per D-only and D+G step and compile times of the trainer's real compiled steps (same
code as main.py) on random data of the config's shape, over all local devices. --impls times
each convolution lowering for G and D together (speed only; the parameters are the same).
"""

import os
import sys

from absl import app
from absl import flags
import jax
from ml_collections import config_flags
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.timing import time_variant  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan_jax import sharding
from gan_jax.trainers import gan
from gan_jax.trainers import loop

config_flags.DEFINE_config_file('config', 'configs/dcgan.py', 'GAN config.')
_REPEATS = flags.DEFINE_integer('repeats', 5, 'Timed steps per variant (median reported).')
_IMPLS = flags.DEFINE_list('impls', ['auto'], 'Conv lowerings to time (auto|xla|hybrid|im2col).')
_VARIANTS = flags.DEFINE_list('variants', [], 'Step variants to time (default: all; e.g. d,dg '
                              'leaves out the lazy-R1 ones).')


def main(argv):
  del argv
  config = flags.FLAGS.config
  gan.validate_config(config)
  mesh = sharding.make_mesh()
  size, batch_size = config.data.image_size, config.batch_size
  rng = np.random.default_rng(0)
  batch = sharding.global_batch({
      'image': rng.uniform(-1, 1, (batch_size, size, size, 3)).astype(np.float32),
      'label': np.zeros((batch_size, 1), np.float32)}, mesh)
  key = sharding.replicate(jax.random.key(0), mesh)
  print(f'JAX {jax.__version__} on {jax.device_count()} x {jax.devices()[0].device_kind}; '
        f'{size} px, batch {batch_size}, model {config.model.to_dict()}, loss '
        f'{config.loss.to_dict()}')
  for impl in _IMPLS.value:
    if 'g_conv_impl' in config.model:   # DCGAN; StyleGAN's convs are always lax.conv
      config.model.g_conv_impl = config.model.d_conv_impl = impl
    nets = gan.build_networks(config)
    g_tx, d_tx = gan.make_optimizers(config)
    steps, _ = gan.make_train_steps(nets, g_tx, d_tx, config)
    task = loop.Task(init_state=gan.make_init_state(nets, g_tx, d_tx, size), train_steps=steps,
                     loader=None)
    state = loop.init_state(task, 0, mesh)
    label = (f'G {nets.generator.conv_impl} / D {nets.discriminator.conv_impl}'
             if 'g_conv_impl' in config.model else config.model.name)
    for name in _VARIANTS.value or steps:
      state, compile_s, step_s = time_variant(steps[name], mesh, state, batch, key,
                                              _REPEATS.value)
      print(f'  [{label}] {name:>5} step: median {1e3 * step_s:8.1f} ms   '
            f'compile {compile_s:5.1f} s', flush=True)


if __name__ == '__main__':
  app.run(main)
