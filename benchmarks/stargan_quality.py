"""StarGAN translation quality judged by an independently trained attribute classifier.

  python benchmarks/stargan_quality.py --config=configs/stargan.py:synthetic \
      --workdir=workdirs/stargan_synthetic --judge=workdirs/classifier_synthetic \
      --num_images=1000 --output=benchmarks/results/stargan_synthetic_quality.json

For each held-out image and each attribute, G translates it to the single-attribute change of the
StarGAN paper's grids (a hair colour switched on, any other attribute flipped). The judge says
whether the changed attribute reached its target (transfer accuracy) and whether every attribute
outside the changed one's group kept the value the judge reads on the input (preservation).
Translations that asked for no change (e.g. black -> black hair) are not counted.
"""

import json
import os

from absl import app
from absl import flags
from ml_collections import config_flags

from gan_jax import metric_writer
from gan_jax.trainers import classifier
from gan_jax.trainers import stargan

config_flags.DEFINE_config_file('config', None, 'The StarGAN config the workdir was trained with.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Trained StarGAN workdir.')
_JUDGE = flags.DEFINE_string('judge', None, 'Workdir of a classifier trained with '
                             'configs/classifier.py on the same data.')
_NUM_IMAGES = flags.DEFINE_integer('num_images', 1000, 'Held-out images to translate.')
_OUTPUT = flags.DEFINE_string('output', None, 'Optional JSON file for the results.')
flags.mark_flags_as_required(['config', 'workdir', 'judge'])


def main(argv):
  del argv
  metric_writer.quiet_library_info_logs()
  judge = classifier.restore(_JUDGE.value)
  result = stargan.evaluate_attribute_transfer(flags.FLAGS.config, _WORKDIR.value, judge,
                                               num_images=_NUM_IMAGES.value)
  result['judge_step'] = float(judge.step)
  width = max(len(k) for k in result)
  for key, value in result.items():
    print(f'{key:<{width}}  {value:.4f}')
  if _OUTPUT.value:
    os.makedirs(os.path.dirname(os.path.abspath(_OUTPUT.value)), exist_ok=True)
    with open(_OUTPUT.value, 'w', encoding='utf-8') as f:
      json.dump({'workdir': _WORKDIR.value, 'judge': _JUDGE.value, **result}, f, indent=2)


if __name__ == '__main__':
  app.run(main)
