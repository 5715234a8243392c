"""What else a single-attribute edit changes, attribute by attribute, in the judge's eyes.

  python benchmarks/edit_side_effects.py --config=configs/stylegan.py:synthetic \
      --workdir=runs/sg32 --judge=runs/cls_synth --strengths=4,8 \
      --output=benchmarks/results/stylegan_synthetic/edit_side_effects.json

For every supervised (InterFaceGAN) direction of --directions (default: the workdir's
--mode=directions file), edits --num_samples fresh samples by +-strength towards the other value
(as --mode=directions judges them) and reports, for each attribute, the fraction of samples whose
reading by the judge changed. The "kept" score of --mode=directions is one minus the mean of these
fractions over the attributes outside the edited one's exclusive group; this table shows which
of them it loses. --input=G.npz reads an exported generator instead of the workdir's checkpoint.
"""

import os
import sys

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import edit_setup  # pylint: disable=wrong-import-position
from gan_jax import metric_writer  # pylint: disable=wrong-import-position
from gan_jax.trainers import gan_editing  # pylint: disable=wrong-import-position

_NUM = flags.DEFINE_integer('num_samples', 500, 'Fresh samples edited per direction.')
_STRENGTHS = flags.DEFINE_list('strengths', ['4', '8'], 'Edit strengths (std units).')
_SEED = flags.DEFINE_integer('seed', 11, 'Seed of the samples (and their noise maps).')


def main(argv):
  del argv
  metric_writer.quiet_library_info_logs()
  gen, judge, directions = edit_setup.load()
  names = list(judge.attr_names)
  latents, judged_in = gan_editing.judged_samples(gen, judge, _SEED.value, _NUM.value)
  render = lambda x: gan_editing.render_batched(gen.renderer(gan_editing.latent_space(x)), x,
                                                _SEED.value, gen)
  result = dict(**edit_setup.header(gen), num_samples=_NUM.value, attributes=names, edits={})
  print(f'{"edit":<18}' + ''.join(f'{n[:11]:>12}' for n in names) + '   (fraction of samples '
        'whose reading changed)')
  for d in directions:
    for s in (float(x) for x in _STRENGTHS.value):
      images, counts = gan_editing.judged_edit(gen, judge, d, s, latents, judged_in, render)
      changed = (judge.predict(images) != judged_in).mean(axis=0)
      result['edits'][f'{d.name}@{s:g}'] = dict(
          direction=d.name, strength=s, flipped=counts.transfer_accuracy,
          kept=counts.preservation, changed=dict(zip(names, map(float, changed))))
      print(f'{d.name[:12] + "@" + format(s, "g"):<18}' + ''.join(f'{c:12.2f}' for c in changed),
            flush=True)
  edit_setup.write_json(result)


if __name__ == '__main__':
  app.run(main)
