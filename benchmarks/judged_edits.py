"""Edits optimised through the judge itself, read by that judge and by an independent one.

  python benchmarks/judged_edits.py --config=configs/stylegan.py:synthetic --workdir=runs/sg32 \
      --judge=runs/cls_synth --eval_judge=runs/cls_synth_b \
      --guided_picks=benchmarks/results/stylegan_synthetic_guided/guided_edits_second_judge.json \
      --output=benchmarks/results/stylegan_synthetic_guided/judged_edits.json

The issue's edit gate counts flips and kept attributes "per the classifier". An edit can be
found *through* that classifier (gan_jax.editing.guided.judged_offsets: Adam on each latent's
offset, the loss of the guided edits computed on the judge's logits of G's images), and then it
reads what it was optimised to read. This measures how much of that is the face and how much is
the judge: for every attribute, on --num_eval fresh samples (seed --seed; the same protocol as
guided_edits.py: flip the judge's reading, keep the attributes outside the exclusive group),

* the judged edit (always optimised through --judge), scored by --judge and by --eval_judge (a
  classifier trained apart); each judge decides from its own reading which way to flip, so the
  edit scored by --eval_judge drives --judge to the side --eval_judge does not read yet. Scored
  with the samples' own noise maps and re-rendered with other ones;
* on the same samples, the latent classifier's guided edit at the setting guided_edits.py picked
  (--guided_picks, its JSON files);
* how often the two judges agree on the unedited samples, and how often each keeps its reading
  of them under other noise maps (a floor under any "kept").

--fresh_draws > 0 also renders each step under that many fresh noise maps (and --max_shift
rolls them), asking the edit to hold beyond one set of maps.
"""

import dataclasses
import json
import os
import sys
import time

from absl import app
from absl import flags
import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import edit_setup  # pylint: disable=wrong-import-position
from gan_jax import metric_writer  # pylint: disable=wrong-import-position
from gan_jax.editing import guided  # pylint: disable=wrong-import-position
from gan_jax.trainers import gan_editing  # pylint: disable=wrong-import-position

_EVAL_JUDGE = flags.DEFINE_string('eval_judge', None, 'A judge trained apart (required).')
_NUM_EVAL = flags.DEFINE_integer('num_eval', 128, 'Samples per attribute.')
_SEED = flags.DEFINE_integer('seed', 1007, 'Seed of the samples (guided_edits.py holds out 1007).')
_STRENGTH = flags.DEFINE_float('strength', 3.0, 'Target logit of the judged edit.')
_KEEP = flags.DEFINE_float('keep_weight', 10.0, 'Keep weight of the judged edit.')
_STEPS = flags.DEFINE_integer('steps', 50, 'Adam steps of the judged edit.')
_FRESH = flags.DEFINE_integer('fresh_draws', 0, 'Fresh noise maps rendered per step.')
_SHIFT = flags.DEFINE_integer('max_shift', 0, 'Random roll (px) of the fresh renderings.')
_PICKS = flags.DEFINE_list('guided_picks', [], 'guided_edits.py JSON files (their picks).')
_ATTRS = flags.DEFINE_list('attrs', None, 'Only these attributes (default: all the judge reads).')
flags.mark_flags_as_required(['eval_judge'])

BATCH = 64       # gan_editing.render_batched's batch: noise maps of batch k from seed + 64 k
OTHER_NOISE = 555


def guided_picks(paths: list[str]) -> dict:
  """{attribute: guided_edits.py's pick {'keep_weight', 'strength', 'layers', 'held_out'}}."""
  picks = {}
  for path in paths:
    with open(path, encoding='utf-8') as f:
      picks.update({a: e['guided_pick'] for a, e in json.load(f)['attributes'].items()})
  return picks


def main(argv):
  del argv
  metric_writer.quiet_library_info_logs()
  config = flags.FLAGS.config
  gen, judge = edit_setup.load_generator_and_judge()
  judges = dict(judge=judge, eval_judge=gan_editing.restore_judge(_EVAL_JUDGE.value, gen))
  attrs = _ATTRS.value or list(judge.attr_names)
  unknown = sorted(set(attrs) - set(judge.attr_names))
  if unknown:
    raise app.UsageError(f'--attrs {unknown} are not read by the judge ({judge.attr_names}).')
  if _NUM_EVAL.value % BATCH:
    raise app.UsageError(f'--num_eval={_NUM_EVAL.value}: use a multiple of {BATCH} (the noise '
                         'maps are drawn per batch of {BATCH})')
  picks = guided_picks(_PICKS.value)
  model = guided.load_latent_classifier(
      gan_editing.latent_classifier_path(config, flags.FLAGS.workdir)) if picks else None
  base = gan_editing.guided_settings(config.edit)
  settings = dataclasses.replace(base, steps=_STEPS.value, keep_weight=_KEEP.value)
  step = jax.jit(guided.judged_edit_step(gan_editing.judge_through_generator(
      gen, judge, _FRESH.value, _SHIFT.value), settings))
  std = gan_editing.latent_spread(gen, _SEED.value + 1)
  latents, images = gan_editing.fresh_samples(gen, _SEED.value, _NUM_EVAL.value)
  render = lambda x, seed: gan_editing.render_batched(
      gen.renderer(gan_editing.latent_space(x)), x, seed, gen, BATCH)
  start_logits = np.concatenate([judge.logits_and_features(images[i:i + BATCH])[0]
                                 for i in range(0, len(images), BATCH)])
  judged_in = {n: j.predict(images) for n, j in judges.items()}
  other_in = {n: j.predict(render(latents, OTHER_NOISE)) for n, j in judges.items()}
  as_row = lambda c: dict(flipped=c.transfer_accuracy, kept=c.preservation)

  def scores(name, attr, edited):
    """Judge `name`'s flipped / kept for edited latents that were asked to flip its reading of
    attr: with the samples' own noise maps, and with other maps (flipped: reads the asked value;
    kept: the other attributes read as on the unedited samples under those maps)."""
    count = lambda images, before: as_row(gan_editing.flip_counts(
        judges[name], attr, judged_in[name], images, before))
    return dict(own_noise=count(render(edited, _SEED.value), judged_in[name]),
                other_noise=count(render(edited, OTHER_NOISE), other_in[name]))

  def judged_edit(attr, reading):
    """Latents edited through --judge to flip attr from `reading` [N, A] (0/1), and the share of
    driven attributes that reached their margin."""
    push, margin, keep = gan_editing.flip_request(judge.attr_names, attr, _STRENGTH.value, reading)
    edited, reached = [], []
    for i in range(0, len(latents), BATCH):
      offsets, h = guided.judged_offsets(
          step, (gen.variables, judge.params, gen.noise(_SEED.value + i, BATCH)),
          latents[i:i + BATCH], std, push[i:i + BATCH], margin[i:i + BATCH],
          keep[i:i + BATCH], start_logits[i:i + BATCH], _STEPS.value)
      edited.append(np.asarray(latents[i:i + BATCH] + offsets))
      reached.append(float(h['reached'][-1]))
    return np.concatenate(edited), float(np.mean(reached))

  result = dict(**edit_setup.header(gen), eval_judge=_EVAL_JUDGE.value, num_eval=_NUM_EVAL.value,
                seed=_SEED.value, judged_settings=dict(
                    dataclasses.asdict(settings), strength=_STRENGTH.value,
                    fresh_draws=_FRESH.value, max_shift=_SHIFT.value),
                initial_agreement={a: float(v) for a, v in zip(judge.attr_names, np.mean(
                    judged_in['judge'] == judged_in['eval_judge'], axis=0))},
                unedited_other_noise_kept={n: float(np.mean(other_in[n] == judged_in[n]))
                                           for n in judges},
                attributes={})
  for attr in attrs:
    entry = dict(judged={}, guided={}, reached={}, offset_norm={})
    seconds = time.perf_counter()
    for name in judges:   # each judge decides which way to flip, as in guided_edits.py
      edited, entry['reached'][name] = judged_edit(attr, judged_in[name])
      entry['judged'][name] = scores(name, attr, edited)
      entry['offset_norm'][name] = float(np.mean(np.linalg.norm((edited - latents) / std,
                                                                axis=1)))
      if attr in picks:
        p = picks[attr]
        entry['guided']['pick'] = dict(keep_weight=p['keep_weight'], strength=p['strength'],
                                       layers=p['layers'])
        entry['guided'][name] = scores(name, attr, gan_editing.guided_flip_latents(
            model, attr, p['strength'], latents, judged_in[name],
            dataclasses.replace(base, keep_weight=p['keep_weight']),
            tuple(p['layers']) if p['layers'] else None, gen.num_ws))
    entry['seconds'] = time.perf_counter() - seconds
    result['attributes'][attr] = entry
    row = lambda r: f'{r["flipped"]:.3f}/{r["kept"]:.3f}'
    line = [f'{attr:<11} judged:'] + [
        f'{n} {row(entry["judged"][n]["own_noise"])} (other noise '
        f'{row(entry["judged"][n]["other_noise"])})' for n in judges]
    if attr in picks:
      line += ['| guided:'] + [f'{n} {row(entry["guided"][n]["own_noise"])}' for n in judges]
    print(' '.join(line) + f' ({entry["seconds"]:.0f} s)', flush=True)
  edit_setup.write_json(result)


if __name__ == '__main__':
  app.run(main)
