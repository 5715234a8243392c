"""Seconds per optimisation step: `lax.scan` of the step vs a Python loop over the jitted step.

  python benchmarks/step_loop_speed.py --config=configs/stylegan.py:synthetic64 \
      --config.ema_decay=0.99778 --workdir=runs/sg64_synth

Times, on a trained StyleGAN's G, one w+ inversion step (--invert_batch images, gradient to the
latents) and one pivotal-tuning step (--pti_batch images, gradient to every weight), each run
--steps times inside one jitted `lax.scan` and as `inversion.run_steps`' Python loop over the
jitted step (compilation excluded, warm). XLA:CPU runs convolutions inside a while loop much
slower (jax#12868), which is why gan_jax.editing.inversion uses the loop.
"""

import os
import sys
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
from ml_collections import config_flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gan_jax import metric_writer  # pylint: disable=wrong-import-position
from gan_jax.editing import inversion  # pylint: disable=wrong-import-position
from gan_jax.trainers import gan_editing  # pylint: disable=wrong-import-position

config_flags.DEFINE_config_file('config', None, 'The StyleGAN config the workdir was trained with.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Trained StyleGAN workdir.')
_INVERT_BATCH = flags.DEFINE_integer('invert_batch', 16, 'Images per inversion step.')
_PTI_BATCH = flags.DEFINE_integer('pti_batch', 8, 'Images per pivotal-tuning step.')
_STEPS = flags.DEFINE_integer('steps', 4, 'Steps timed per variant.')
flags.mark_flags_as_required(['config', 'workdir'])


def seconds_per_step(step, carry, args, steps: int) -> dict:
  """{'scan': s, 'python_loop': s} per step of step(carry, *args) -> (carry, metrics), warm."""
  jitted = jax.jit(step)
  scanned = jax.jit(lambda c, a: jax.lax.scan(lambda c, _: jitted(c, *a), c, None, length=steps))
  result = {}
  for name, run in (('scan', lambda: scanned(carry, args)),
                    ('python_loop', lambda: inversion.run_steps(jitted, carry, steps, *args))):
    jax.block_until_ready(run())   # compiles
    start = time.perf_counter()
    jax.block_until_ready(run())
    result[name] = (time.perf_counter() - start) / steps
  return result


def main(argv):
  del argv
  metric_writer.quiet_library_info_logs()
  config = flags.FLAGS.config
  gen = gan_editing.load_editable(config, _WORKDIR.value)
  size = config.data.image_size

  b = _INVERT_BATCH.value
  settings = inversion.InversionSettings(steps=_STEPS.value)
  init = inversion.initial_latent(gen.generator, gen.variables, 'w+', b)
  target = jnp.zeros((b, size, size, 3))
  step = inversion.inversion_step(
      lambda v, x, n: gan_editing._render(gen.generator, gen.kind, 'w+', v, x, n),  # pylint: disable=protected-access
      settings)
  invert = seconds_per_step(step, inversion.inversion_start(init, settings),
                            (gen.variables, target, None, gen.noise(0, b), None), _STEPS.value)

  b = _PTI_BATCH.value
  settings = inversion.PivotalTuningSettings(steps=_STEPS.value)
  params = gen.variables['params']
  rest = {k: v for k, v in gen.variables.items() if k != 'params'}
  step = inversion.tuning_step(
      lambda p, x, n: gan_editing._render(gen.generator, gen.kind, 'w+', {'params': p, **rest},  # pylint: disable=protected-access
                                          x, n), settings)
  pivots = inversion.initial_latent(gen.generator, gen.variables, 'w+', b)
  tune = seconds_per_step(step, inversion.tuning_start(params, settings), (pivots, jnp.zeros((b, size, size, 3)), gen.noise(0, b),
                                        None, None, None), _STEPS.value)
  print(f'device: {jax.devices()[0].device_kind}, {size} px')
  for name, r in ((f'w+ inversion step, batch {_INVERT_BATCH.value}', invert),
                  (f'pivotal-tuning step, batch {_PTI_BATCH.value}', tune)):
    print(f'{name:<34} scan {r["scan"]:.3f} s   python loop {r["python_loop"]:.3f} s   '
          f'ratio {r["scan"] / r["python_loop"]:.1f}x')


if __name__ == '__main__':
  app.run(main)
