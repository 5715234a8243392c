"""gan_jax entry point: python main.py --config=configs/stargan.py[:variant] --workdir=DIR.

Picks the trainer named by config.trainer and runs the function for --mode. Nothing else.
"""

from absl import app
from absl import flags
from absl import logging
import jax
from ml_collections import config_flags

from gan_jax import errors
from gan_jax import metric_writer
from gan_jax import trainers

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file(
    'config', None, 'Config file, optionally with a variant: configs/stargan.py:synthetic. '
    'Override fields with --config.a.b=value.', lock_config=True)
flags.DEFINE_string('workdir', None, 'Where checkpoints, logs and samples go.')
flags.DEFINE_string('mode', 'train', 'train | eval | translate | export | directions | edit | restore | stylize '
                    '(trainer-dependent).')
flags.DEFINE_string('input', None, 'translate: an image file or a folder of images.')
flags.DEFINE_string('output', None, 'translate: output folder.')
flags.DEFINE_string('target', '', 'translate: attributes to set, e.g. Blond_Hair=1,Male=0.')
flags.DEFINE_string('edit', '', 'edit: directions and strengths, e.g. Smiling:+2,Male:-1.')
flags.DEFINE_string('mask', None, 'edit: a mask image, white where the edit may act.')
flags.DEFINE_string('content', None, 'stylize: the content image.')
flags.DEFINE_string('style', None, 'stylize: style image(s), comma-separated: a.jpg,b.jpg.')
flags.DEFINE_string('style_weights', None, 'stylize: blend weights of the styles, e.g. 0.7,0.3.')
flags.DEFINE_string('direction', None, 'translate (CycleGAN): AtoB (default) or BtoA.')
flags.mark_flags_as_required(['config', 'workdir'])

_OPTION_FLAGS = ('input', 'output', 'target', 'edit', 'mask', 'content', 'style', 'style_weights',
                 'direction')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  metric_writer.quiet_library_info_logs()
  run = trainers.get_mode(FLAGS.config.trainer, FLAGS.mode)
  logging.info('JAX %s on %d %s device(s), %d process(es).', jax.__version__,
               jax.device_count(), jax.default_backend(), jax.process_count())
  options = {name: FLAGS[name].value for name in _OPTION_FLAGS if FLAGS[name].value}
  try:
    run(FLAGS.config, FLAGS.workdir, **options)
  except errors.UserError as e:   # says what was wrong and what to do: no traceback needed
    logging.error('%s: %s', type(e).__name__, e)
    raise SystemExit(2) from None


if __name__ == '__main__':
  jax.config.config_with_absl()
  app.run(main)
