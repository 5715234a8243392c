"""Content editing with a trained unconditional generator (trainer 'gan'): --mode=directions
and --mode=edit.

  python main.py --config=configs/stylegan.py:synthetic --workdir=W --mode=directions \
      --config.edit.judge=CLASSIFIER_WORKDIR
  python main.py --config=configs/stylegan.py:synthetic --workdir=W --mode=edit \
      --input=FACE.png --edit=Smiling:+2,Male:-1 [--mask=MASK.png] --output=OUT

`directions` samples latents, has the judge classifier label their images and finds one
InterFaceGAN direction per attribute, its conditional version (the normals of the attributes
outside its exclusive group projected out; the other hair colours stay in), SeFa and GANSpace
directions (StyleGAN), saves them to workdir/edits/directions.npz, and measures every
supervised direction's edits over a range of strengths: how often the judge sees the attribute
flipped and the others kept, and the recommended strength (workdir/edits/directions_eval.json, report.html, strength-sweep grids).
With config.edit.guided.num_samples > 0 it also fits the latent classifier of the guided edits
(gan_jax.editing.guided; workdir/edits/latent_classifier.npz) and judges those edits the same way.
config.edit.eval_judge, when set, judges all the edits instead of the labelling judge.

`edit` inverts --input (or draws config.edit.num_seeds images from config.edit.seed), applies
the named directions with their strengths (optionally only inside --mask, white = edit), and
writes the result, a strength-sweep grid per direction and the edit metrics. With
config.edit.method='guided' the names are attributes and the strengths target logits of the
latent classifier: each latent gets its own offset that keeps the other attributes. With
config.edit.method='judged' (StyleGAN) the offsets are found through the judge itself, its
logits of G's images; the judge then reads what it was pushed to read, so judge such edits with
another classifier (benchmarks/judged_edits.py).

StyleGAN edits live in w (or w+ after inverting into w+); DCGAN edits in z (no SeFa there).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from typing import Any, Callable

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import attributes
from gan_jax import errors
from gan_jax import image_io
from gan_jax import report
from gan_jax import data as data_lib
from gan_jax.editing import directions as directions_lib
from gan_jax.editing import edits as edits_lib
from gan_jax.editing import guided
from gan_jax.editing import inversion
from gan_jax.metrics import attributes as attribute_metrics
from gan_jax.metrics import image_pairs
from gan_jax.trainers import gan


@dataclasses.dataclass(frozen=True)
class EditableGenerator:
  """A frozen G with the latent space edits happen in: w for StyleGAN, z for DCGAN."""
  generator: Any
  variables: dict
  kind: str              # 'stylegan' | 'dcgan'
  image_size: int
  latent_dim: int        # z size
  step: int
  compiled: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)

  @property
  def num_ws(self) -> int:
    return self.generator.num_ws if self.kind == 'stylegan' else 1

  def noise(self, seed: int, batch: int):
    """StyleGAN's per-layer noise maps drawn from seed (fixed for an image and its edits)."""
    if self.kind != 'stylegan':
      return None
    return self.generator.apply(self.variables, jax.random.key(seed), batch,
                                method=self.generator.random_noise)

  def edit_latents(self, z: jax.Array, truncation_psi: float = 1.0) -> jax.Array:
    """z [B, Z] -> the edit space: w [B, W] (StyleGAN, truncated towards w_avg) or z."""
    if self.kind != 'stylegan':
      return z
    ws = self.generator.apply(self.variables, z, method=self.generator.mapping_ws)[:, 0]
    w_avg = self.variables['stats']['w_avg']
    return w_avg + truncation_psi * (ws - w_avg)

  def renderer(self, space: str = 'w') -> Callable[[jax.Array, Any], jax.Array]:
    """render(latent, noise) -> images [B, S, S, 3] in about [-1, 1] (compiled once per space
    and shape; the weights are an argument, not constants baked into the program)."""
    if space not in self.compiled:
      self.compiled[space] = jax.jit(functools.partial(_render, self.generator, self.kind, space))
    return functools.partial(self.compiled[space], self.variables)


def _render(generator, kind: str, space: str, variables, latent, noise):
  if kind == 'stylegan':
    return inversion.stylegan_renderer(generator, variables, space)(latent, noise)
  return generator.apply(variables, latent, train=False)


def check_edit_settings(e) -> None:
  """ConfigError for config.edit inversion and edit settings that cannot work (before anything
  runs)."""
  if e.invert_space not in ('w', 'w+'):
    raise errors.ConfigError(f"config.edit.invert_space={e.invert_space!r}: choose 'w' or 'w+' "
                             '(a DCGAN always inverts z)')
  if e.invert_steps < 0 or e.get('pti_steps', 0) < 0 or e.get('pti_locality', 0.0) < 0:
    raise errors.ConfigError('config.edit.invert_steps, pti_steps and pti_locality must be >= 0')
  if e.get('pti_steps', 0) and not e.pti_lr > 0:
    raise errors.ConfigError(f'config.edit.pti_lr={e.pti_lr} must be > 0 with pti_steps > 0 '
                             '(PTI uses 3e-4)')
  if e.get('label_noise_draws', 1) < 1:
    raise errors.ConfigError(f'config.edit.label_noise_draws={e.label_noise_draws} must be >= 1 '
                             '(1 = one image per latent)')
  if e.get('method', 'linear') not in ('linear', 'guided', 'judged'):
    raise errors.ConfigError(f"config.edit.method={e.method!r}: choose 'linear' (directions), "
                             "'guided' (the latent classifier of --mode=directions) or 'judged' "
                             '(guided through the classifier of config.edit.judge)')
  g = e.get('guided')
  if g is None:
    return
  if g.num_samples and g.num_samples < 20:
    raise errors.ConfigError(f'config.edit.guided.num_samples={g.num_samples}: use 0 (no latent '
                             'classifier) or >= 20 (10 % are held out to measure it)')
  if g.steps < 1 or g.fit_steps < 1 or not g.lr > 0 or g.keep_weight < 0 or \
     g.distance_weight < 0 or not g.strengths or min(g.strengths) <= 0:
    raise errors.ConfigError(
        f'config.edit.guided: steps ({g.steps}) and fit_steps ({g.fit_steps}) must be >= 1, lr '
        f'({g.lr}) > 0, keep_weight ({g.keep_weight}) and distance_weight ({g.distance_weight}) '
        f'>= 0, strengths ({g.strengths}) positive target logits, e.g. (1, 2, 3, 4, 6)')


def load_editable(config, workdir: str, input_npz: str | None = None) -> EditableGenerator:
  """G (EMA weights) of the latest checkpoint of workdir, or of an exported .npz."""
  gan.validate_config(config)
  check_edit_settings(config.edit)
  nets = gan.build_networks(config)
  if input_npz:
    params, stats, step = gan.load_generator(input_npz)
  else:
    nets, state, step = gan.restore(config, workdir)
    params = jax.device_get(nets.generator_params(state.g_ema))   # LoRA adapters merged
    stats = jax.device_get(state.g_stats)
  return EditableGenerator(nets.generator, {'params': params, **stats}, config.model.name,
                           config.data.image_size, nets.latent_dim, int(step))


def sample_latents(gen: EditableGenerator, seed: int, num: int, truncation_psi: float = 1.0
                   ) -> np.ndarray:
  """num latents in G's edit space ([num, W] w for StyleGAN, z for DCGAN) of z drawn from seed."""
  z = jax.random.normal(jax.random.key(seed), (num, gen.latent_dim))
  return np.asarray(gen.edit_latents(z, truncation_psi))


def render_batched(render, latents, noise_seed: int, gen: EditableGenerator,
                   batch_size: int = 64) -> np.ndarray:
  """Images of latents [N, ...] in batches of one shape (the last one padded), noise drawn per
  batch from noise_seed + start."""
  out = []
  for start in range(0, len(latents), batch_size):
    chunk = np.asarray(latents[start:start + batch_size])
    n = len(chunk)
    if n < batch_size and len(latents) > batch_size:
      chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch_size - n, axis=0)])
    out.append(np.asarray(render(jnp.asarray(chunk), gen.noise(noise_seed + start,
                                                               len(chunk))))[:n])
  return np.concatenate(out)


def restore_judge(path: str, gen: EditableGenerator):
  """The classifier of workdir `path` (None for ''); ConfigError unless it sees G's size."""
  from gan_jax.trainers import classifier  # pylint: disable=g-import-not-at-top
  if not path:
    return None
  judge = classifier.restore(path)
  if judge.image_size != gen.image_size:
    raise errors.ConfigError(f'the judge {path} sees {judge.image_size} px images but G makes '
                             f'{gen.image_size} px: train the classifier on the same data size')
  return judge


def _judge_logits(judge, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
  return np.concatenate([judge.logits_and_features(images[i:i + batch_size])[0]
                         for i in range(0, len(images), batch_size)])


LABEL_NOISE_SEED_STRIDE = 7919   # label_logits' draw k renders with noise maps of seed + 7919 k


def label_logits(gen: EditableGenerator, judge, latents: np.ndarray, noise_seed: int,
                 draws: int = 1) -> np.ndarray:
  """The judge's logits [N, A] of G's images of latents [N, W], averaged over `draws` sets of
  StyleGAN noise maps (seeds noise_seed + LABEL_NOISE_SEED_STRIDE k): the part of the reading
  that w determines.
  (A briefly trained G's noise maps alone change the judge's reading of age, glasses or smiles
  on a fifth of its samples, and a label w cannot see is noise to a boundary fitted in w.)"""
  render = gen.renderer('w')
  return np.mean([_judge_logits(judge, render_batched(
      render, latents, noise_seed + LABEL_NOISE_SEED_STRIDE * k, gen))
                  for k in range(draws if gen.kind == 'stylegan' else 1)], axis=0)


def _parse_layers(text: str, num_ws: int) -> tuple[int, int] | None:
  if not text:
    return None
  try:
    start, stop = (int(x) for x in text.split(','))
  except ValueError:
    raise errors.ConfigError(f'config.edit.layers={text!r}: write START,STOP (w+ indices, '
                             f'stop exclusive, at most {num_ws})') from None
  if not 0 <= start < stop <= num_ws:
    raise errors.ConfigError(f'config.edit.layers={text!r} is outside 0..{num_ws}')
  return start, stop


def directions_path(config, workdir: str) -> str:
  """config.edit.directions, or WORKDIR/edits/directions.npz."""
  return config.edit.directions or os.path.join(workdir, 'edits', 'directions.npz')


def find_directions(config, workdir: str, input: str | None = None, **unused) -> dict:
  """--mode=directions (see the module docstring). Returns the evaluation summary."""
  e = config.edit
  gen = load_editable(config, workdir, input)
  judge = restore_judge(e.judge, gen)
  eval_judge = restore_judge(e.eval_judge, gen) if e.eval_judge and judge else judge
  if judge is not None and tuple(eval_judge.attr_names) != tuple(judge.attr_names):
    raise errors.ConfigError(f'config.edit.eval_judge={e.eval_judge} reads '
                             f'{eval_judge.attr_names}, the judge {judge.attr_names}: train both '
                             'on the same attributes')
  layers = _parse_layers(e.layers, gen.num_ws)
  latents = sample_latents(gen, e.seed, e.num_samples, e.truncation_psi)
  found: list[directions_lib.Direction] = []
  if judge is not None:
    logging.info('Labelling %d generated latents (x %d noise draws) with the judge %s.',
                 len(latents), e.label_noise_draws, e.judge)
    logits = label_logits(gen, judge, latents, e.seed, e.label_noise_draws)
    supervised = [directions_lib.interfacegan_direction(name, latents, logits[:, i], e.fraction,
                                                        layers=layers)
                  for i, name in enumerate(judge.attr_names)]
    found += supervised
    if e.conditional:   # conditioned on every attribute outside its exclusive group
      names = judge.attr_names
      found += [directions_lib.conditional_direction(d, [
          o for o in supervised
          if names.index(o.name) not in attributes.group_of(d.name, names)]) for d in supervised]
  else:
    logging.warning('No config.edit.judge: only unsupervised directions (SeFa, GANSpace).')
  if gen.kind == 'stylegan' and e.sefa_num:
    kernels = directions_lib.stylegan_style_kernels(gen.variables['params'], gen.image_size,
                                                    layers)
    sefa = directions_lib.sefa_directions(kernels, e.sefa_num, layers)
    scale = lambda d: float(np.std(latents @ d.vector))
    found += [dataclasses.replace(d, scale=scale(d)) for d in sefa]
  if e.ganspace_num:
    found += directions_lib.ganspace_directions(latents, e.ganspace_num, layers)
  path = directions_path(config, workdir)
  directions_lib.save_directions(path, found)
  logging.info('Saved %d directions to %s: %s', len(found), path, ', '.join(d.name for d in found))
  if judge is None:
    return {'num_directions': len(found)}
  latent_model = None
  if e.guided.num_samples:
    latent_model = fit_latent_model(gen, judge, e)
    guided.save_latent_classifier(latent_classifier_path(config, workdir), latent_model)
  return evaluate_directions(config, workdir, gen, eval_judge,
                             [d for d in found if d.info['method'] in ('interfacegan',
                                                                       'conditional')],
                             latent_model)


def latent_classifier_path(config, workdir: str) -> str:
  """config.edit.latent_classifier, or WORKDIR/edits/latent_classifier.npz."""
  return (config.edit.latent_classifier or
          os.path.join(workdir, 'edits', 'latent_classifier.npz'))


def latent_model_samples(gen: EditableGenerator, e) -> tuple[np.ndarray, int]:
  """(latents [e.guided.num_samples, W], seed): what the latent classifier is fitted on, w of z
  drawn from seed = e.seed + 2 (apart from the directions' and the evaluation's samples); their
  labels render with noise maps from the same seed."""
  seed = e.seed + 2
  return sample_latents(gen, seed, e.guided.num_samples, e.truncation_psi), seed


def latent_fit_settings(e) -> guided.FitSettings:
  g = e.guided
  return guided.FitSettings(hidden=g.hidden, depth=g.depth, steps=g.fit_steps, seed=e.seed)


def fit_latent_model(gen: EditableGenerator, judge, e) -> guided.LatentClassifier:
  """The guided edits' latent classifier: latent_model_samples and the judge's logits of their
  images; 10 % held out to report the agreement with the judge."""
  latents, seed = latent_model_samples(gen, e)
  logging.info('Labelling %d generated latents (x %d noise draws) for the latent classifier.',
               len(latents), e.label_noise_draws)
  logits = label_logits(gen, judge, latents, seed, e.label_noise_draws)
  model = guided.fit_latent_classifier(latents, logits, judge.attr_names, latent_fit_settings(e))
  logging.info('Latent classifier: held-out agreement with the judge %s',
               {k: round(v, 3) for k, v in model.info.get('holdout_agreement', {}).items()})
  return model


def guided_settings(e) -> guided.GuidedEditSettings:
  return guided.GuidedEditSettings(steps=e.guided.steps, learning_rate=e.guided.lr,
                                   keep_weight=e.guided.keep_weight,
                                   distance_weight=e.guided.distance_weight)


def guided_flip_latents(model: guided.LatentClassifier, attr: str, strength: float,
                        latents: np.ndarray, judged_in: np.ndarray,
                        settings: guided.GuidedEditSettings,
                        layers: tuple[int, int] | None = None, num_ws: int | None = None
                        ) -> np.ndarray:
  """Guided edits that flip `attr` on each latent: driven to logit +strength where judged_in
  [B, A] (columns in model.attr_names) reads it absent, to -strength where present; the
  attributes outside its exclusive group kept."""
  push, margin, keep = flip_request(model.attr_names, attr, strength, judged_in)
  offsets = guided.guided_offsets(model, latents, push, margin, keep, settings)
  return np.asarray(guided.apply_offsets(latents, offsets, layers, num_ws))


def flip_request(attr_names, attr: str, strength: float, judged_in: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(push, margin, keep) [B, A] of guided.edit_request that flip `attr` on each sample: to
  logit +strength where judged_in [B, A] (0/1, columns attr_names) reads it absent, to
  -strength where present; the attributes outside its exclusive group kept."""
  i = list(attr_names).index(attr)
  requests = [guided.edit_request(attr_names, [(attr, sign * strength)], len(judged_in),
                                  attributes.EXCLUSIVE_GROUPS) for sign in (1.0, -1.0)]
  absent = (judged_in[:, i] < 0.5)[:, None]
  return tuple(np.where(absent, on, off) for on, off in zip(*requests))


def judge_through_generator(gen: EditableGenerator, judge, fresh_draws: int = 0,
                            max_shift: int = 0) -> Callable:
  """logits_fn(aux, latent, key) -> [1 + fresh_draws, B, A] for guided.judged_edit_step: the
  judge's logits of G's images of latent (w [B, W] or w+ [B, L, W]), aux = (G's variables, the
  judge's parameters, the samples' noise maps); then of the same latents under fresh_draws sets
  of noise maps drawn from key, each image rolled by a random shift of up to max_shift px."""
  if gen.kind != 'stylegan':
    raise errors.ConfigError('edits through the judge need a StyleGAN (w latents, noise maps)')
  g = gen.generator

  def logits_fn(aux, latent, key):
    g_vars, j_params, noise = aux
    render = inversion.stylegan_renderer(g, g_vars, latent_space(latent))
    images = [render(latent, noise)]
    for k in jax.random.split(key, fresh_draws):
      image = render(latent, g.apply(g_vars, k, latent.shape[0], method=g.random_noise))
      if max_shift:
        shift = jax.random.randint(jax.random.fold_in(k, 1), (2,), -max_shift, max_shift + 1)
        image = jnp.roll(image, (shift[0], shift[1]), axis=(1, 2))
      images.append(image)
    return jnp.stack([judge.model.apply(j_params, x)[0] for x in images])
  return logits_fn


def _attribute_of(direction: directions_lib.Direction) -> str:
  return direction.name.split('|')[0]


def edit_counts(gen: EditableGenerator, judge, direction: directions_lib.Direction,
                strength: float, latents: np.ndarray, judged_in: np.ndarray, noise_seed: int
                ) -> attribute_metrics.TransferCounts:
  """Judge's view of editing each latent by +strength (attribute absent) or -strength (present):
  flipped when the attribute reaches the other value, kept = attributes outside its exclusive
  group read as on the unedited image. Noise maps drawn per batch from noise_seed."""
  render = lambda x: render_batched(gen.renderer(latent_space(x)), x, noise_seed, gen)
  return judged_edit(gen, judge, direction, strength, latents, judged_in, render)[1]


def judged_edit(gen: EditableGenerator, judge, direction: directions_lib.Direction,
                strength: float, latents: np.ndarray, judged_in: np.ndarray,
                render: Callable[[np.ndarray], np.ndarray]
                ) -> tuple[np.ndarray, attribute_metrics.TransferCounts]:
  """(edited images, counts) of `edit_counts`, rendering the edited latents with render(latents)
  -> images (e.g. with the noise maps an inversion fitted)."""
  i = judge.attr_names.index(_attribute_of(direction))
  signs = np.where(judged_in[:, i] > 0.5, -1.0, 1.0).astype(np.float32)
  edited = np.asarray(edits_lib.apply_directions(latents, [direction], strength * signs[:, None],
                                                 gen.num_ws))
  images = render(edited)
  return images, flip_counts(judge, _attribute_of(direction), judged_in, images)


def flip_counts(judge, attr: str, judged_in: np.ndarray, images: np.ndarray,
                kept_against: np.ndarray | None = None) -> attribute_metrics.TransferCounts:
  """How the judge reads images edited to flip `attr` from judged_in [B, A]: flipped when it
  reads the other value, kept = attributes outside attr's exclusive group read as in
  kept_against [B, A] (default judged_in; e.g. the unedited images' reading under the noise
  maps `images` were rendered with)."""
  names = judge.attr_names
  i = names.index(attr)
  target = judged_in.copy()
  target[:, i] = 1.0 - judged_in[:, i]
  return attribute_metrics.count_single_transfer(
      attr, judged_in, target, judged_in if kept_against is None else kept_against,
      judge.predict(images), names)


def latent_space(latents) -> str:
  """'w+' for latents [B, L, W], else 'w' (or a DCGAN's z, which its renderer ignores)."""
  return 'w+' if latents.ndim == 3 else 'w'


def recommended_strength(rows: list[dict]) -> dict:
  """The smallest strength whose edits reach >= 90 % flips and >= 90 % kept; else the one with
  the best min(flip, kept). rows: {'strength', 'transfer', 'preservation'}."""
  good = [r for r in rows if r['transfer'] >= 0.9 and r['preservation'] >= 0.9]
  if good:
    return dict(min(good, key=lambda r: r['strength']), meets_90_90=True)
  return dict(max(rows, key=lambda r: min(r['transfer'], r['preservation'])), meets_90_90=False)


def fresh_samples(gen: EditableGenerator, seed: int, num: int, truncation_psi: float = 1.0
                  ) -> tuple[np.ndarray, np.ndarray]:
  """num fresh samples of G: (w latents [num, W], their images [num, S, S, 3] in [-1, 1]); z
  and the noise maps (render_batched's, so edits rendered with seed share them) from seed."""
  latents = sample_latents(gen, seed, num, truncation_psi)
  return latents, render_batched(gen.renderer('w'), latents, seed, gen)


def judged_samples(gen: EditableGenerator, judge, seed: int, num: int,
                   truncation_psi: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
  """`fresh_samples`' latents [num, W] and the judge's 0/1 reading of their images [num, A]."""
  latents, images = fresh_samples(gen, seed, num, truncation_psi)
  return latents, judge.predict(images)


def supervised_directions(path: str) -> list[directions_lib.Direction]:
  """The InterFaceGAN directions (one per attribute, unconditioned) of a directions file."""
  return [d for d in directions_lib.load_directions(path).values()
          if d.info.get('method') == 'interfacegan']


def evaluate_directions(config, workdir: str, gen: EditableGenerator, judge,
                        supervised: list[directions_lib.Direction],
                        latent_model: guided.LatentClassifier | None = None) -> dict:
  """Edit accuracy of each direction over config.edit.eval_strengths, and of the guided edits
  of each attribute over config.edit.guided.strengths, on the same fresh latents; writes
  directions_eval.json, report.html and the sweep grids next to the directions file."""
  e = config.edit
  latents, images = fresh_samples(gen, e.seed + 1, e.num_eval, e.truncation_psi)
  judged_in = judge.predict(images)
  results, per_attribute = {}, {'transfer': {}, 'preservation': {}}
  for d in supervised:
    rows = []
    for s in e.eval_strengths:
      c = edit_counts(gen, judge, d, float(s), latents, judged_in, e.seed + 1)
      rows.append(_count_row(s, c))
    results[d.name] = _recommend(d.name, rows)
    if d.info['method'] == 'interfacegan':
      per_attribute['transfer'][d.name] = results[d.name]['recommended']['transfer']
      per_attribute['preservation'][d.name] = results[d.name]['recommended']['preservation']
  grids = {f'{d.name}: strengths {list(e.sweep)} (rows: samples)': _sweep_grid(
      gen, d, latents[:e.num_grid], e.sweep, e.seed + 1) for d in supervised}
  summary = {'step': gen.step, 'num_eval': e.num_eval, 'judge': e.judge,
             'eval_judge': e.eval_judge or e.judge, 'directions': results}
  if latent_model is not None:
    summary['guided'], guided_grids = evaluate_guided(gen, judge, latent_model, latents,
                                                      judged_in, images[:e.num_grid], e)
    summary['latent_classifier'] = latent_model.info
    grids.update(guided_grids)
    for name, r in summary['guided'].items():
      per_attribute['transfer'][f'{name} (guided)'] = r['recommended']['transfer']
      per_attribute['preservation'][f'{name} (guided)'] = r['recommended']['preservation']
  out_dir = os.path.dirname(directions_path(config, workdir))
  _write_json(os.path.join(out_dir, 'directions_eval.json'), summary)
  flat = {f'{name}/{k}': v for part in ('directions', 'guided')
          for name, r in summary.get(part, {}).items()
          for k, v in r['recommended'].items() if isinstance(v, (int, float))}
  with open(os.path.join(out_dir, 'report.html'), 'w', encoding='utf-8') as f:
    f.write(report.render(f'Edit directions (G step {gen.step})', {'step': gen.step, **flat},
                          [], grids, per_attribute,
                          notes=[f'judge: {e.eval_judge or e.judge}; {e.num_eval} fresh samples; '
                                 'directions: strengths in std of the latents along each '
                                 'direction; guided: strengths are the target logits']))
  for caption, grid in grids.items():
    image_io.save_image(os.path.join(out_dir, 'sweep_' + caption.split(':')[0].replace('|', '_')
                                     .replace(',', '+').replace(' ', '_')
                                     .replace('(', '').replace(')', '') + '.png'), grid)
  return summary


def _count_row(strength: float, c: attribute_metrics.TransferCounts) -> dict:
  return dict(strength=float(strength), transfer=c.transfer_accuracy,
              preservation=c.preservation, changed=c.changed)


def _recommend(name: str, rows: list[dict]) -> dict:
  best = recommended_strength(rows)
  logging.info('%-28s recommended strength %.1f: flipped %.3f, kept %.3f%s', name,
               best['strength'], best['transfer'], best['preservation'],
               '' if best['meets_90_90'] else ' (below 90/90)')
  return dict(sweep=rows, recommended=best)


def evaluate_guided(gen: EditableGenerator, judge, model: guided.LatentClassifier,
                    latents: np.ndarray, judged_in: np.ndarray, inputs: np.ndarray, e
                    ) -> tuple[dict, dict]:
  """Guided single-attribute edits of latents [N, W] (fresh_samples of e.seed + 1) judged as
  the directions' are: per attribute the sweep over e.guided.strengths and the recommended
  strength; and a grid per attribute (rows: inputs [G, S, S, 3], the images of the first G
  latents; columns: the input, then each strength)."""
  settings = guided_settings(e)
  render = lambda x: render_batched(gen.renderer('w'), x, e.seed + 1, gen)
  results, grids = {}, {}
  for attr in model.attr_names:
    rows, columns = [], [inputs]
    for s in e.guided.strengths:
      edited = guided_flip_latents(model, attr, float(s), latents, judged_in, settings)
      images = render(edited)
      rows.append(_count_row(s, flip_counts(judge, attr, judged_in, images)))
      columns.append(images[:len(inputs)])
    results[attr] = _recommend(f'{attr} (guided)', rows)
    grids[f'{attr} (guided): input, strengths {list(e.guided.strengths)}'] = \
        image_io.make_grid(columns)
  return results, grids


def _sweep_grid(gen, direction, latents, strengths, noise_seed) -> np.ndarray:
  columns = []
  for s in strengths:
    edited = np.asarray(edits_lib.apply_directions(latents, [direction], [float(s)], gen.num_ws))
    columns.append(render_batched(gen.renderer(latent_space(edited)), edited, noise_seed, gen))
  return image_io.make_grid(columns)


def _write_json(path: str, obj) -> None:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path + '.tmp', 'w', encoding='utf-8') as f:
    json.dump(obj, f, indent=2)
  os.replace(path + '.tmp', path)


def load_mask(path: str, image_size: int) -> np.ndarray:
  """A mask image (any size/mode; white = edit) -> [1, S, S, 1] float in [0, 1]."""
  if not os.path.isfile(path):
    raise errors.InputNotFoundError(f'--mask={path} is not a file: pass a PNG, white where the '
                                    'edit may change the image')
  from PIL import Image  # pylint: disable=g-import-not-at-top
  with Image.open(path) as image:
    gray = image.convert('L').resize((image_size, image_size), Image.BILINEAR)
  return (np.asarray(gray, np.float32) / 255.0)[None, :, :, None]


def inversion_noise(gen: EditableGenerator, config, batch: int):
  """The noise maps an inverted image is rendered with: none when an encoder gives the latent
  (it was trained against G without noise), else fixed maps drawn from config.edit.seed."""
  return None if config.edit.get('encoder') else gen.noise(config.edit.seed, batch)


def invert_images(gen: EditableGenerator, images: np.ndarray, config, noise,
                  known: np.ndarray | None = None) -> tuple[np.ndarray, Any]:
  """(latents, noise) reproducing images [B, S, S, 3] (config.edit.invert_*): w+ for StyleGAN
  (optimised in w first, then in w+ from there, as in tests/editing; with config.edit.encoder
  in w+ from the encoder's E(x)), z for DCGAN. known [B, S, S, 1] in [0, 1]: only those pixels
  count (inpainting); None = all. The noise maps are `noise` unchanged, or, with
  config.edit.invert_noise (StyleGAN), optimised with the last stage (StyleGAN2's projector:
  regularised to stay white, renormalised each step); render the latents with them."""
  e = config.edit
  settings = inversion.InversionSettings(steps=e.invert_steps, learning_rate=e.invert_lr)
  last = dataclasses.replace(settings, optimize_noise=bool(e.get('invert_noise')) and
                             gen.kind == 'stylegan' and noise is not None)
  target = jnp.asarray(images)
  known = None if known is None else jnp.asarray(known, jnp.float32)
  if e.get('encoder'):   # an e4e-style encoder's E(x) starts (or, with 0 steps, is) the w+
    from gan_jax.trainers import encoder  # pylint: disable=g-import-not-at-top
    w_plus = encoder.encode_for_editing(gen, e.encoder, images)
    if e.invert_steps == 0:
      return w_plus, noise
    return _invert(gen, 'w+', last, jnp.asarray(w_plus), target, noise, known)
  if gen.kind != 'stylegan':
    return _invert(gen, 'z', settings, jnp.zeros((len(images), gen.latent_dim)), target, None,
                   known)
  w_avg = inversion.initial_latent(gen.generator, gen.variables, 'w', len(images))
  if e.invert_space == 'w':
    return _invert(gen, 'w', last, w_avg, target, noise, known)
  w, _ = _invert(gen, 'w', settings, w_avg, target, noise, known)
  w_plus = jnp.broadcast_to(w[:, None], (len(images), gen.num_ws, w.shape[-1]))
  return _invert(gen, 'w+', last, w_plus, target, noise, known)


def tune_to_images(gen: EditableGenerator, latents: np.ndarray, noise, images: np.ndarray, config,
                   known: np.ndarray | None = None) -> EditableGenerator:
  """gen with its weights fine-tuned so that the inverted latents reproduce images (pivotal
  tuning, config.edit.pti_*; one G for the whole batch), or gen itself when pti_steps is 0.
  Render the latents, and their edits, with the returned generator."""
  e = config.edit
  if not e.get('pti_steps'):
    return gen
  settings = inversion.PivotalTuningSettings(steps=e.pti_steps, learning_rate=e.pti_lr,
                                             locality_weight=e.pti_locality)
  space = latent_space(latents)
  params, rest = gen.variables['params'], {k: v for k, v in gen.variables.items()
                                           if k != 'params'}
  random_ws = None
  if settings.locality_weight > 0:
    random_ws = jnp.asarray(sample_latents(gen, e.seed + 7, len(latents)))

  render = lambda p, x, n: _render(gen.generator, gen.kind, space, {'params': p, **rest}, x, n)
  key = ('pti', space, settings)   # the step compiles once per generator, space and settings
  if key not in gen.compiled:
    gen.compiled[key] = jax.jit(inversion.tuning_step(render, settings))
  tuned, history = inversion.pivotal_tuning(
      render, params, jnp.asarray(latents), jnp.asarray(images), noise,
      None if known is None else jnp.asarray(known, jnp.float32), settings, random_ws,
      compiled_step=gen.compiled[key])
  logging.info('Pivotal tuning: %d steps, pixel MSE %.4g -> %.4g.', e.pti_steps,
               float(history['mse'][0]), float(history['mse'][-1]))
  return dataclasses.replace(gen, variables={'params': jax.device_get(tuned), **rest})


def _invert(gen: EditableGenerator, space: str, settings, init, target, noise,
            known=None) -> tuple[np.ndarray, Any]:
  key = ('invert', space, settings)   # the step compiles once per generator, space and settings
  if key not in gen.compiled:
    gen.compiled[key] = jax.jit(inversion.inversion_step(
        functools.partial(_render, gen.generator, gen.kind, space), settings))
  latents, noise, _ = inversion.invert(None, init, target, known, settings, init_noise=noise,
                                       compiled_step=gen.compiled[key], variables=gen.variables)
  return np.asarray(latents), noise


def restore_arrays(gen: EditableGenerator, images: np.ndarray, hole: np.ndarray | None,
                   config) -> tuple[np.ndarray, np.ndarray, dict]:
  """Inpainting by inversion: images [B, S, S, 3] in [-1, 1], hole [B, S, S, 1] in [0, 1]
  (1 = unknown; None = nothing unknown: projection onto G's range). Returns (G's images,
  restored = images outside the hole and G's inside, {'psnr_known_pixels': [B], 'hole_fraction'})."""
  known = None if hole is None else 1.0 - np.asarray(hole, np.float32)
  latents, noise = invert_images(gen, images, config, inversion_noise(gen, config, len(images)),
                                 known)
  gen = tune_to_images(gen, latents, noise, images, config, known)
  generated = np.asarray(gen.renderer(latent_space(latents))(jnp.asarray(latents), noise))
  if hole is None:
    return generated, generated, dict(psnr_known_pixels=[float(v) for v in image_pairs.psnr_per_image(
        generated, images)], hole_fraction=0.0)
  restored = np.asarray(edits_lib.pixel_blend(images, generated, hole))
  sq = np.square(generated - images) * known
  mse_known = sq.sum(axis=(1, 2, 3)) / np.maximum(known.sum(axis=(1, 2, 3)) * 3, 1)
  psnr_known = (10 * np.log10(4.0 / np.maximum(mse_known, 1e-12))).tolist()   # range [-1, 1]
  return generated, restored, dict(psnr_known_pixels=psnr_known,
                                   hole_fraction=float(np.mean(hole)))


def restore_images(config, workdir: str, input: str | None = None, output: str | None = None,
                   mask: str | None = None, **unused) -> dict:
  """--mode=restore: fill the white region of --mask (a hole: removed content, a damaged area)
  from G by inverting only the known pixels, or without --mask project the whole image onto
  G's range (denoising, repair of small defects). Writes <name>_restored.png (known pixels kept,
  the hole filled), <name>_generated.png (G's whole image), <name>_grid.png (input, input with
  the hole greyed out, generated, restored) and metrics.json (PSNR of G on the known pixels)."""
  if not input or not output:
    raise errors.ConfigError('--mode=restore needs --input=IMAGE_OR_FOLDER and --output=FOLDER '
                             '(and --mask=PNG, white = the region to fill)')
  gen = load_editable(config, workdir)
  paths = image_io.list_images(input)
  images = np.stack([image_io.load_for_model(p, data_lib.crop_fraction(config.data),
                                             gen.image_size) for p in paths])
  hole = (np.broadcast_to(load_mask(mask, gen.image_size), (len(images), gen.image_size,
                                                            gen.image_size, 1))
          if mask else None)
  generated, restored, metrics = restore_arrays(gen, images, hole, config)
  metrics.update(step=gen.step, mask=mask)
  known = np.ones_like(images[..., :1]) if hole is None else 1.0 - hole
  psnr_known = metrics['psnr_known_pixels']
  os.makedirs(output, exist_ok=True)
  for i, p in enumerate(paths):
    name = os.path.splitext(os.path.basename(p))[0]
    image_io.save_image(os.path.join(output, f'{name}_restored.png'), restored[i])
    image_io.save_image(os.path.join(output, f'{name}_generated.png'), generated[i])
    damaged = images[i:i + 1] * known[i:i + 1]
    image_io.save_image(os.path.join(output, f'{name}_grid.png'), image_io.make_grid(
        [images[i:i + 1], damaged, generated[i:i + 1], restored[i:i + 1]]))
  _write_json(os.path.join(output, 'metrics.json'), metrics)
  logging.info('Restored %d image(s) into %s; PSNR on known pixels %s', len(paths), output,
               ', '.join(f'{v:.1f}' for v in psnr_known))
  return metrics


def named_edits(spec: str, directions_path: str) -> tuple[list, list[float]]:
  """--edit 'Smiling:+2,Male:-1' -> (the named Directions of directions_path, strengths), with
  ConfigErrors that say the format or list the directions there are."""
  try:
    wanted = edits_lib.parse_edit_spec(spec)
  except ValueError as err:
    raise errors.ConfigError(str(err)) from None
  available = directions_lib.load_directions(directions_path)
  missing = [n for n, _ in wanted if n not in available]
  if missing:
    raise errors.ConfigError(f'no direction named {missing} in {directions_path}; it has: '
                             f'{", ".join(available)}')
  return [available[n] for n, _ in wanted], [s for _, s in wanted]


def edit_function(config, workdir: str, spec: str
                  ) -> Callable[[EditableGenerator, np.ndarray, Any],
                                tuple[Callable[[float], jax.Array], dict]]:
  """--edit and config.edit.method -> make(gen, latents, noise) -> (move, info): move(scale) ->
  the edited latents at `scale` x the asked strengths; info: how the judged edit's optimisation
  went (its first and last loss, the share of driven attributes past their margin; {} for the
  others). Loads and checks everything it needs first (ConfigErrors that say
  what to change).

  linear: latents + sum_k scale * strength_k * direction_k (named directions of the directions
  file). guided: the offsets of gan_jax.editing.guided, found once at the full strengths (target
  logits of the latent classifier), scaled along the straight line (scale 1 = the edit), on
  config.edit.layers ('' = all). judged: the same offsets found through config.edit.judge
  itself (guided.judged_offsets: its logits of G's images, rendered with `noise`), so the judge
  that guided an edit cannot also be the one to trust on it (benchmarks/judged_edits.py).
  """
  e = config.edit
  check_edit_settings(e)
  if e.method == 'linear':
    chosen, strengths = named_edits(spec, directions_path(config, workdir))
    return lambda gen, latents, noise: (lambda scale: edits_lib.apply_directions(
        jnp.asarray(latents), chosen, [s * scale for s in strengths], gen.num_ws), {})
  try:
    wanted = edits_lib.parse_edit_spec(spec)
  except ValueError as err:
    raise errors.ConfigError(str(err)) from None
  settings = guided_settings(e)
  if e.method == 'judged':
    if not e.judge or config.model.name != 'stylegan':
      raise errors.ConfigError("config.edit.method='judged' edits a StyleGAN through the "
                               'classifier of config.edit.judge=CLASSIFIER_WORKDIR: set both')

    def make_judged(gen: EditableGenerator, latents: np.ndarray, noise):
      judge = restore_judge(e.judge, gen)
      layers = _parse_layers(e.layers, gen.num_ws)
      push, margin, keep = guided.edit_request(judge.attr_names, wanted, len(latents),
                                               attributes.EXCLUSIVE_GROUPS)
      start = judge.logits_and_features(np.asarray(
          gen.renderer(latent_space(latents))(jnp.asarray(latents), noise)))[0]
      step = jax.jit(guided.judged_edit_step(judge_through_generator(gen, judge), settings,
                                             layers, gen.num_ws))
      offsets, history = guided.judged_offsets(
          step, (gen.variables, judge.params, noise), latents, latent_spread(gen, e.seed + 3),
          push, margin, keep, start, settings.steps)
      info = dict(method='judged', loss_first=float(history['loss'][0]),
                  loss_last=float(history['loss'][-1]), reached=float(history['reached'][-1]))
      return lambda scale: guided.apply_offsets(latents, scale * offsets, layers,
                                                gen.num_ws), info
    return make_judged
  model = guided.load_latent_classifier(latent_classifier_path(config, workdir))
  request = guided.edit_request(model.attr_names, wanted, 1, attributes.EXCLUSIVE_GROUPS)

  def make(gen: EditableGenerator, latents: np.ndarray, noise):
    del noise   # the latent classifier reads w alone
    layers = _parse_layers(e.layers, gen.num_ws)
    push, margin, keep = (np.repeat(a, len(latents), axis=0) for a in request)
    offsets = guided.guided_offsets(model, latents, push, margin, keep, settings)
    return lambda scale: guided.apply_offsets(latents, scale * offsets, layers, gen.num_ws), {}
  return make


def latent_spread(gen: EditableGenerator, seed: int, num: int = 1000) -> np.ndarray:
  """[W]: the per-dimension standard deviation of w (z for a DCGAN) over num samples of z drawn
  from seed: the unit of the judged edits' offsets."""
  return sample_latents(gen, seed, num).std(0)


def edit_images(config, workdir: str, input: str | None = None, output: str | None = None,
                edit: str = '', mask: str | None = None, **unused) -> dict:
  """--mode=edit (see the module docstring). Returns the metrics written to metrics.json."""
  e = config.edit
  if not output or not edit:
    raise errors.ConfigError('--mode=edit needs --edit=NAME:STRENGTH[,...] and --output=FOLDER '
                             '(and --input=IMAGE_OR_FOLDER, or config.edit.seed for samples)')
  edit_fn = edit_function(config, workdir, edit)
  gen = load_editable(config, workdir)
  metrics: dict[str, Any] = {'edit': edit, 'step': gen.step}
  if input:
    paths = image_io.list_images(input)
    crop = data_lib.crop_fraction(config.data)
    images = np.stack([image_io.load_for_model(p, crop, gen.image_size) for p in paths])
    latents, noise = invert_images(gen, images, config,
                                   inversion_noise(gen, config, len(images)))
    gen = tune_to_images(gen, latents, noise, images, config)
    names = [os.path.splitext(os.path.basename(p))[0] for p in paths]
  else:
    latents = sample_latents(gen, e.seed, e.num_seeds, e.truncation_psi)
    noise, images = gen.noise(e.seed, e.num_seeds), None
    names = [f'seed{e.seed}_{i}' for i in range(e.num_seeds)]
  original = np.asarray(gen.renderer(latent_space(latents))(jnp.asarray(latents), noise))
  if images is not None:
    metrics['pti_steps'] = int(e.get('pti_steps', 0))   # > 0: psnr of the tuned G
    metrics['inversion_psnr'] = image_pairs.psnr(original, images)
    metrics['inversion_psnr_per_image'] = [float(v) for v in
                                           image_pairs.psnr_per_image(original, images)]
  m = None
  if mask:
    m = jnp.broadcast_to(jnp.asarray(load_mask(mask, gen.image_size)),
                         (len(latents), gen.image_size, gen.image_size, 1))

  move, info = edit_fn(gen, latents, noise)
  if info:
    metrics['edit_optimisation'] = info

  def render_edit(scale: float) -> np.ndarray:
    """Images with the edits at `scale` x their strengths (inside the mask, if any)."""
    edited = move(scale)
    if m is None:
      return np.asarray(gen.renderer(latent_space(edited))(edited, noise))
    return np.asarray(_masked(gen, latents, edited, m, noise, e.mask_from_resolution))

  result = render_edit(1.0)
  if m is not None:
    outside = np.asarray(m[..., 0] == 0)
    metrics['max_change_outside_mask'] = float(np.max(np.abs(result - original)[outside])) \
        if outside.any() else 0.0
  judge = restore_judge(e.judge, gen)
  if judge is not None:
    before, after = judge.predict(original), judge.predict(result)
    metrics['judge_before'] = {n: before[:, i].tolist() for i, n in enumerate(judge.attr_names)}
    metrics['judge_after'] = {n: after[:, i].tolist() for i, n in enumerate(judge.attr_names)}
  sweep = [render_edit(float(t)) for t in np.linspace(0.0, 1.0, e.sweep_columns)]
  os.makedirs(output, exist_ok=True)
  for i, name in enumerate(names):
    image_io.save_image(os.path.join(output, f'{name}_edited.png'), result[i])
    image_io.save_image(os.path.join(output, f'{name}_original.png'), original[i])
    columns = ([images[i:i + 1]] if images is not None else []) + [c[i:i + 1] for c in sweep]
    image_io.save_image(os.path.join(output, f'{name}_sweep.png'), image_io.make_grid(columns))
  _write_json(os.path.join(output, 'metrics.json'), metrics)
  logging.info('Edited %d image(s) into %s: %s', len(names), output,
               {k: v for k, v in metrics.items() if isinstance(v, float)})
  return metrics


def _masked(gen, latents, edited, mask, noise, from_resolution):
  if gen.kind != 'stylegan':
    render = gen.renderer()
    return edits_lib.pixel_blend(render(jnp.asarray(latents), None), render(edited, None), mask)
  ws = lambda x: (x if x.ndim == 3 else jnp.broadcast_to(x[:, None], (x.shape[0], gen.num_ws,
                                                                      x.shape[-1])))
  return edits_lib.masked_edit(gen.generator, gen.variables, ws(jnp.asarray(latents)),
                               ws(edited), mask, noise, from_resolution)

