"""CycleGAN train-step speed: median seconds per iteration (both G and both D updates).

  python benchmarks/cyclegan_step.py                                  # paper model, 128 and 256 px
  python benchmarks/cyclegan_step.py --sizes=64 --config=configs/cyclegan.py:horse2zebra
  python benchmarks/cyclegan_step.py --impls=xla,hybrid,im2col        # compare conv lowerings

Runs the trainer's compiled step (same code as main.py, image pool included) on random data of the
config's batch size (paper: batch 1, ngf/ndf 64, 9 residual blocks), over all local devices.
The reference: the official PyTorch code takes about 6 s (128 px) and 29 s (256 px) per
iteration on the 2-core CPU machines this project is developed on.
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
from gan_jax.trainers import cyclegan
from gan_jax.trainers import loop

config_flags.DEFINE_config_file('config', 'configs/cyclegan.py', 'CycleGAN config.')
_SIZES = flags.DEFINE_list('sizes', ['128', '256'], 'Image sizes (crop_size) to time.')
_IMPLS = flags.DEFINE_list('impls', ['auto'], 'Conv lowerings for G and D (layers.conv2d).')
_REPEATS = flags.DEFINE_integer('repeats', 3, 'Timed steps per size (median reported).')


def time_size(config, size: int, impl: str, repeats: int) -> tuple[float, float]:
  """(compile seconds, median seconds per step) of the config at size x size."""
  config = config.copy_and_resolve_references()
  config.data.update(crop_size=size, load_size=size)
  config.model.update(g_conv_impl=impl, d_conv_impl=impl)
  cyclegan.validate_config(config)
  mesh = sharding.make_mesh()
  generator, discriminator = cyclegan.build_models(config)
  g_tx, d_tx = cyclegan.make_optimizers(config)
  step = cyclegan.make_train_step(generator, discriminator, g_tx, d_tx,
                                  cyclegan.LossWeights(**config.loss.to_dict()))
  task = loop.Task(init_state=cyclegan.make_init_state(generator, discriminator, g_tx, d_tx, size,
                                                       config.pool_size),
                   train_steps={'train': step}, loader=None)
  state = loop.init_state(task, 0, mesh)
  rng = np.random.default_rng(0)
  shape = (config.batch_size, size, size, 3)
  batch = sharding.global_batch({'a': rng.uniform(-1, 1, shape).astype(np.float32),
                                 'b': rng.uniform(-1, 1, shape).astype(np.float32)}, mesh)
  key = sharding.replicate(jax.random.key(0), mesh)
  _, compile_s, step_s = time_variant(step, mesh, state, batch, key, repeats)
  return compile_s, step_s


def main(argv):
  del argv
  config = flags.FLAGS.config
  m = config.model
  print(f'JAX {jax.__version__} on {jax.device_count()} x {jax.devices()[0].device_kind}, '
        f'{os.cpu_count()} CPUs; batch {config.batch_size}, ngf {m.ngf}, n_blocks {m.n_blocks}, '
        f'ndf {m.ndf}, n_layers_d {m.n_layers_d}, pool {config.pool_size}')
  for impl in _IMPLS.value:
    for size in map(int, _SIZES.value):
      compile_s, step_s = time_size(config, size, impl, _REPEATS.value)
      print(f'  {size:4d} px, conv impl {impl:>6}: {step_s:7.3f} s/iteration '
            f'(median of {_REPEATS.value}; compile {compile_s:5.1f} s)', flush=True)


if __name__ == '__main__':
  app.run(main)
