"""Does averaging the judge over noise draws (config.edit.label_noise_draws) help the guided
edits' latent classifier?

  python benchmarks/label_noise_draws.py --config=configs/stylegan.py:synthetic \
      --workdir=runs/sg32 --judge=runs/cls_synth \
      --output=benchmarks/results/stylegan_synthetic_guided/label_noise_draws.json

The latent classifier of --mode=directions (gan_editing.fit_latent_model: the same latents, seed
config.edit.seed + 2, the same fit settings) is fitted once for every count in --draws, its labels
being the judge's logits averaged over the first `count` noise draws (the draws
gan_editing.label_logits uses). Each model's own report (info['holdout_agreement']) compares it
with labels made like its own, which favours no one only if the labels are equally noisy; so
all models are also scored on the same held-out latents (the fit's last 10 %) against
* the judge averaged over --reference_draws other noise draws (what w determines), and
* the judge under one more noise draw (what an edit's evaluation sees).
"""

import os
import sys

from absl import app
from absl import flags
import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import edit_setup  # pylint: disable=wrong-import-position
from gan_jax import metric_writer  # pylint: disable=wrong-import-position
from gan_jax.editing import guided  # pylint: disable=wrong-import-position
from gan_jax.trainers import gan_editing  # pylint: disable=wrong-import-position

_DRAWS = flags.DEFINE_list('draws', ['1', '4'], 'Label noise-draw counts to compare.')
_REFERENCE = flags.DEFINE_integer('reference_draws', 8,
                                  'Other noise draws averaged for the reference reading.')
_NUM = flags.DEFINE_integer('num_samples', None,
                            'Latents to fit on (default: config.edit.guided.num_samples).')

NOISE_STRIDE = 7919   # gan_editing.label_logits: draw k uses noise seed + 7919 k


def agreement(logits: np.ndarray, reference: np.ndarray, names: list[str]) -> dict:
  """{attribute: share of rows whose signs agree}, logits and reference [N, A]."""
  return {n: float(v) for n, v in zip(names, np.mean((logits > 0) == (reference > 0), axis=0))}


def main(argv):
  del argv
  metric_writer.quiet_library_info_logs()
  config = flags.FLAGS.config
  e, g = config.edit, config.edit.guided
  gen, judge = edit_setup.load_generator_and_judge()
  if gen.kind != 'stylegan':
    raise app.UsageError('only a StyleGAN has noise maps to average over')
  names = list(judge.attr_names)
  counts = sorted({int(d) for d in _DRAWS.value})
  if counts[0] < 1:
    raise app.UsageError(f'--draws {counts}: counts must be >= 1')
  num = _NUM.value or g.num_samples
  z = jax.random.normal(jax.random.key(e.seed + 2), (num, gen.latent_dim))
  latents = np.asarray(gen.edit_latents(z, e.truncation_psi))
  seed = e.seed + 2
  per_draw = [gan_editing.label_logits(gen, judge, latents, seed + NOISE_STRIDE * k)
              for k in range(counts[-1])]
  settings = guided.FitSettings(hidden=g.hidden, depth=g.depth, steps=g.fit_steps, seed=e.seed)
  n_hold = int(round(num * settings.holdout))
  held = latents[num - n_hold:]
  other = [gan_editing.label_logits(gen, judge, held, seed + NOISE_STRIDE * (counts[-1] + k))
           for k in range(_REFERENCE.value + 1)]
  reference, one_draw = np.mean(other[:-1], axis=0), other[-1]   # apart from each other
  result = dict(**edit_setup.header(gen), num_samples=num, held_out=n_hold,
                reference_draws=_REFERENCE.value,
                # how often a single draw's reading agrees with the averaged one: the label noise
                single_draw_vs_reference=agreement(one_draw, reference, names), models={})
  for count in counts:
    labels = np.mean(per_draw[:count], axis=0)
    model = guided.fit_latent_classifier(latents, labels, names, settings)
    predicted = np.asarray(model.logits(held))
    result['models'][str(count)] = dict(
        best_step=model.info.get('best_step'),
        own_holdout_agreement=model.info.get('holdout_agreement'),
        vs_reference=agreement(predicted, reference, names),
        vs_one_other_draw=agreement(predicted, one_draw, names))
    print(f'draws {count}: vs {_REFERENCE.value}-draw reference ' + ', '.join(
        f'{n} {v:.3f}' for n, v in result['models'][str(count)]['vs_reference'].items()) +
          ' | vs one other draw ' + ', '.join(
              f'{n} {v:.3f}' for n, v in result['models'][str(count)]['vs_one_other_draw'].items()),
          flush=True)
  print('one draw vs the reference: ' + ', '.join(
      f'{n} {v:.3f}' for n, v in result['single_draw_vs_reference'].items()))
  edit_setup.write_json(result)


if __name__ == '__main__':
  app.run(main)
