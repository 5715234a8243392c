"""Does averaging the judge over noise draws (config.edit.label_noise_draws) help the guided
edits' latent classifier?

  python benchmarks/label_noise_draws.py --config=configs/stylegan.py:synthetic \
      --workdir=runs/sg32 --judge=runs/cls_synth \
      --output=benchmarks/results/stylegan_synthetic_guided/label_noise_draws.json

The latent classifier of --mode=directions (gan_editing.fit_latent_model: the same latents,
gan_editing.latent_model_samples, and fit settings) is fitted once for every count in --draws,
its labels being the judge's logits averaged over the first `count` noise draws (the draws
gan_editing.label_logits uses; --config.edit.guided.num_samples sets how many latents). Each
model's own report (info['holdout_agreement']) compares it with labels made like its own, which
favours no one only if the labels are equally noisy; so all models are also scored on the same
held-out latents (the fit's last 10 %) against
* the judge averaged over --reference_draws other noise draws (what w determines), and
* the judge under one more noise draw (what an edit's evaluation sees).
"""

import os
import sys

from absl import app
from absl import flags
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import edit_setup  # pylint: disable=wrong-import-position
from gan_jax import metric_writer  # pylint: disable=wrong-import-position
from gan_jax.editing import guided  # pylint: disable=wrong-import-position
from gan_jax.trainers import gan_editing  # pylint: disable=wrong-import-position

_DRAWS = flags.DEFINE_list('draws', ['1', '4'], 'Label noise-draw counts to compare.')
_REFERENCE = flags.DEFINE_integer('reference_draws', 8,
                                  'Other noise draws averaged for the reference reading.')


def agreement(logits: np.ndarray, reference: np.ndarray, names: list[str]) -> dict:
  """{attribute: share of rows whose signs agree}, logits and reference [N, A]."""
  return {n: float(v) for n, v in zip(names, np.mean((logits > 0) == (reference > 0), axis=0))}


def shown(shares: dict) -> str:
  return ', '.join(f'{n} {v:.3f}' for n, v in shares.items())


def main(argv):
  del argv
  metric_writer.quiet_library_info_logs()
  e = flags.FLAGS.config.edit
  gen, judge = edit_setup.load_generator_and_judge()
  if gen.kind != 'stylegan':
    raise app.UsageError('only a StyleGAN has noise maps to average over')
  names = list(judge.attr_names)
  counts = sorted({int(d) for d in _DRAWS.value})
  if counts[0] < 1:
    raise app.UsageError(f'--draws {counts}: counts must be >= 1')
  latents, seed = gan_editing.latent_model_samples(gen, e)
  draw_seed = lambda k: seed + gan_editing.LABEL_NOISE_SEED_STRIDE * k   # label_logits' draw k
  per_draw = [gan_editing.label_logits(gen, judge, latents, draw_seed(k))
              for k in range(counts[-1])]
  settings = gan_editing.latent_fit_settings(e)
  num, n_hold = len(latents), int(round(len(latents) * settings.holdout))
  held = latents[num - n_hold:]
  other = [gan_editing.label_logits(gen, judge, held, draw_seed(counts[-1] + k))
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
    row = result['models'][str(count)]
    print(f'draws {count}: vs {_REFERENCE.value}-draw reference {shown(row["vs_reference"])} | '
          f'vs one other draw {shown(row["vs_one_other_draw"])}', flush=True)
  print(f'one draw vs the reference: {shown(result["single_draw_vs_reference"])}')
  edit_setup.write_json(result)


if __name__ == '__main__':
  app.run(main)
