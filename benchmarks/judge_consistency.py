"""How steady the judge's reading of a generated face is: the floor under any "kept" rate.

  python benchmarks/judge_consistency.py --config=configs/stylegan.py:synthetic \
      --workdir=runs/sg32 --judge=runs/cls_synth \
      --output=benchmarks/results/stylegan_synthetic_guided/judge_consistency.json

On --num_samples fresh samples (seed --seed), per attribute, the share of the judge's readings
that stay the same when
* the same latents are rendered with other noise maps (StyleGAN's per-pixel noise; G's
  stochastic detail), and
* each latent is moved by eps x (the per-dimension std of the latents) x a standard normal draw,
  for every eps in --perturbations, with the first noise maps.
An edit scored "kept" needs every attribute outside the edited one to read as before; readings
that change under a re-draw of the noise or a tiny random move cap what any edit can reach.
Also reports the share of judge logits within 1 of the boundary (|logit| < 1).
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
from gan_jax.trainers import gan_editing  # pylint: disable=wrong-import-position

_NUM = flags.DEFINE_integer('num_samples', 1000, 'Fresh samples of G.')
_SEED = flags.DEFINE_integer('seed', 11, 'Seed of the samples (noise maps: seed + 89, + 189).')
_EPS = flags.DEFINE_list('perturbations', ['0.01', '0.05', '0.2'],
                         'Random moves of the latents, in per-dimension stds.')


def same_share(a: np.ndarray, b: np.ndarray, names: list[str]) -> dict:
  """{attribute: share of rows where readings a and b [N, A] agree}."""
  return {n: float(v) for n, v in zip(names, np.mean(a == b, axis=0))}


def main(argv):
  del argv
  metric_writer.quiet_library_info_logs()
  gen, judge = edit_setup.load_generator_and_judge()
  names = list(judge.attr_names)
  latents = gan_editing.sample_latents(gen, _SEED.value, _NUM.value)
  render = gen.renderer(gan_editing.latent_space(latents))
  images = lambda x, noise_seed: gan_editing.render_batched(render, x, noise_seed, gen)
  first = images(latents, _SEED.value + 89)
  base = judge.predict(first)
  logits = judge.logits_and_features(first)[0]
  result = dict(**edit_setup.header(gen), num_samples=_NUM.value,
                near_boundary={n: float(v) for n, v in zip(names, np.mean(np.abs(logits) < 1, 0))},
                other_noise=same_share(judge.predict(images(latents, _SEED.value + 189)), base,
                                       names),
                perturbed={})
  std = latents.std(axis=0)
  for k, eps in enumerate(float(e) for e in _EPS.value):
    draw = np.asarray(jax.random.normal(jax.random.key(_SEED.value + 1 + k), latents.shape))
    moved = (latents + eps * std * draw).astype(np.float32)
    result['perturbed'][str(eps)] = same_share(
        judge.predict(images(moved, _SEED.value + 89)), base, names)
  print(f'{"":<22}' + ' '.join(f'{n[:10]:>10}' for n in names))
  rows = [('|logit| < 1', result['near_boundary']), ('same, other noise', result['other_noise'])]
  rows += [(f'same, moved {e} std', v) for e, v in result['perturbed'].items()]
  for label, row in rows:
    print(f'{label:<22}' + ' '.join(f'{row[n]:>10.3f}' for n in names), flush=True)
  edit_setup.write_json(result)


if __name__ == '__main__':
  app.run(main)
