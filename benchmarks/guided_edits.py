"""Guided single-attribute edits (gan_jax.editing.guided) against the linear directions, judged on
samples that did not choose their settings, optionally by a second, independent judge.

  python benchmarks/guided_edits.py --config=configs/stylegan.py:synthetic \
      --workdir=runs/sg32 --judge=runs/cls_synth --eval_judge=runs/cls_synth_b \
      --output=benchmarks/results/stylegan_synthetic/guided_edits.json

Reads the latent classifier and the InterFaceGAN directions that --mode=directions wrote to
WORKDIR/edits/ (run it first, with --config.edit.judge=JUDGE). For every attribute:
1. on --num_samples fresh samples (seed --seed), judged by --judge, every guided setting
   (keep weight x strength, and with --layer_ranges every range of whole resolutions at the best
   keep weight) and every strength of the linear direction are scored: flipped (the judge reads
   the other value) and kept (attributes outside the exclusive group read as before), exactly
   as --mode=directions scores them;
2. each method's pick (the best min(flipped, kept), ties to more flips) is re-judged on
   --num_eval other samples (seed --seed + 1000) by --judge and, when given, by --eval_judge (a
   classifier trained apart from the one whose logits the latent classifier learned);
3. as a yardstick for "kept", each held-out latent is also moved as far as its guided edit moved
   it, in a random direction, and the share of the judge's readings that stay is reported (over
   the attributes "kept" counts, and per attribute).
"""

import dataclasses
import os
import sys

from absl import app
from absl import flags
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import edit_setup  # pylint: disable=wrong-import-position
from gan_jax import attributes  # pylint: disable=wrong-import-position
from gan_jax import metric_writer  # pylint: disable=wrong-import-position
from gan_jax.editing import edits as edits_lib  # pylint: disable=wrong-import-position
from gan_jax.editing import guided  # pylint: disable=wrong-import-position
from gan_jax.trainers import gan_editing  # pylint: disable=wrong-import-position

_EVAL_JUDGE = flags.DEFINE_string('eval_judge', None, 'A second judge for the held-out samples.')
_NUM = flags.DEFINE_integer('num_samples', 300, 'Samples per setting to choose on.')
_NUM_EVAL = flags.DEFINE_integer('num_eval', 500, 'Other samples that judge the picks.')
_STRENGTHS = flags.DEFINE_list('strengths', ['1', '2', '3', '4', '6'],
                               'Guided strengths (target logits).')
_KEEP = flags.DEFINE_list('keep_weights', ['3', '10', '30'], 'Guided keep weights.')
_LINEAR = flags.DEFINE_list('linear_strengths', ['1', '2', '3', '4', '6', '8'],
                            'Linear direction strengths (std units).')
_LAYER_RANGES = flags.DEFINE_bool('layer_ranges', False,
                                  'Also try the guided offset on each range of whole resolutions.')
_SEED = flags.DEFINE_integer('seed', 7, 'Seed of the choosing samples.')
_ATTRS = flags.DEFINE_list('attrs', None, 'Only these attributes (default: all the judge reads).')


def pick(rows: list[dict]) -> dict:
  return max(rows, key=lambda r: (min(r['flipped'], r['kept']), r['flipped']))


def as_row(c) -> dict:
  """A TransferCounts as a result row."""
  return dict(flipped=c.transfer_accuracy, kept=c.preservation, changed=c.changed)


def counts(judge, attr, judged_in, images) -> dict:
  return as_row(gan_editing.flip_counts(judge, attr, judged_in, images))


class Samples:
  """Fresh samples of G, each judge's reading of them, and a renderer with their noise maps."""

  def __init__(self, gen, judges, seed, num):
    self.latents, images = gan_editing.fresh_samples(gen, seed, num)
    self.render = lambda x: gan_editing.render_batched(gen.renderer(gan_editing.latent_space(x)),
                                                       x, seed, gen)
    self.judged = [j.predict(images) for j in judges]


def main(argv):
  del argv
  metric_writer.quiet_library_info_logs()
  config = flags.FLAGS.config
  gen, judge, directions = edit_setup.load()
  unknown = sorted(set(_ATTRS.value or []) - set(judge.attr_names))
  if unknown:
    raise app.UsageError(f'--attrs {unknown} are not read by the judge; it reads '
                         f'{judge.attr_names}.')
  judges = [judge] + ([gan_editing.restore_judge(_EVAL_JUDGE.value, gen)]
                      if _EVAL_JUDGE.value else [])
  model = guided.load_latent_classifier(
      gan_editing.latent_classifier_path(config, flags.FLAGS.workdir))
  base = gan_editing.guided_settings(config.edit)
  choose = Samples(gen, judges[:1], _SEED.value, _NUM.value)
  held = Samples(gen, judges, _SEED.value + 1000, _NUM_EVAL.value)
  ranges = [None] + (edits_lib.resolution_layer_ranges(gen.num_ws) if _LAYER_RANGES.value else [])
  by_name = {d.name: d for d in directions}
  result = dict(**edit_setup.header(gen), eval_judge=_EVAL_JUDGE.value,
                num_samples=_NUM.value, num_eval=_NUM_EVAL.value,
                latent_classifier=model.info, guided_defaults=dataclasses.asdict(base),
                attributes={})

  def guided_edit(samples, attr, s, keep, layers, judged_in):
    settings = dataclasses.replace(base, keep_weight=keep)
    return samples.render(gan_editing.guided_flip_latents(
        model, attr, s, samples.latents, judged_in, settings, layers, gen.num_ws))

  def linear_counts(samples, attr, s, j, judged_in):
    """Counts of judge j for the linear direction at strength s, flipping j's reading."""
    return as_row(gan_editing.judged_edit(gen, j, by_name[attr], s, samples.latents, judged_in,
                                          samples.render)[1])

  def random_move(samples, attr, g, judged_in):
    """What the judge reads after moving each latent (on all layers) as far as its guided offset
    in w, in a random direction: how often readings change from a move of that size alone."""
    edited = gan_editing.guided_flip_latents(model, attr, g['strength'], samples.latents,
                                             judged_in, dataclasses.replace(
                                                 base, keep_weight=g['keep_weight']))
    size = np.linalg.norm(edited - samples.latents, axis=1, keepdims=True)
    noise = np.random.default_rng(0).normal(size=samples.latents.shape)
    moved = samples.latents + size * noise / np.linalg.norm(noise, axis=1, keepdims=True)
    images = samples.render(moved.astype(np.float32))
    same = judge.predict(images) == judged_in
    others = [i for i in range(len(judge.attr_names))
              if i not in attributes.group_of(attr, judge.attr_names)]
    return dict(mean_offset_norm=float(size.mean()),
                readings_kept=float(same.mean()),
                kept=float(same[:, others].mean()),   # over the attributes "kept" counts
                kept_per_attribute={a: float(v) for a, v in zip(judge.attr_names, same.mean(0))})

  for attr in _ATTRS.value or judge.attr_names:
    rows = [dict(keep_weight=float(k), layers=None, strength=float(s), **counts(
        judge, attr, choose.judged[0],
        guided_edit(choose, attr, float(s), float(k), None, choose.judged[0])))
            for k in _KEEP.value for s in _STRENGTHS.value]
    keep = pick(rows)['keep_weight']
    rows += [dict(keep_weight=keep, layers=layers, strength=float(s), **counts(
        judge, attr, choose.judged[0],
        guided_edit(choose, attr, float(s), keep, layers, choose.judged[0])))
             for layers in ranges[1:] for s in _STRENGTHS.value]
    linear_rows = [dict(strength=float(s), **linear_counts(choose, attr, float(s), judge,
                                                           choose.judged[0]))
                   for s in _LINEAR.value] if attr in by_name else []
    g, l = pick(rows), (pick(linear_rows) if linear_rows else None)
    entry = dict(guided_sweep=rows, linear_sweep=linear_rows,
                 guided_pick=dict(keep_weight=g['keep_weight'], layers=g['layers'],
                                  strength=g['strength'], held_out={}),
                 linear_pick=dict(strength=l['strength'], held_out={}) if l else None)
    for j, judged_in in zip(judges, held.judged):   # each judge decides the request and scores it
      name = 'judge' if j is judge else 'eval_judge'
      entry['guided_pick']['held_out'][name] = counts(j, attr, judged_in, guided_edit(
          held, attr, g['strength'], g['keep_weight'], g['layers'], judged_in))
      if l:
        entry['linear_pick']['held_out'][name] = linear_counts(held, attr, l['strength'], j,
                                                               judged_in)
    entry['random_same_size'] = random_move(held, attr, g, held.judged[0])
    result['attributes'][attr] = entry
    line = [f'{attr:<11} guided (keep {g["keep_weight"]:g}, layers {g["layers"]}, '
            f'strength {g["strength"]:g})']
    for name, c in entry['guided_pick']['held_out'].items():
      line.append(f'{name} {c["flipped"]:.3f}/{c["kept"]:.3f}')
    if l:
      line.append(f'| linear (strength {l["strength"]:g})')
      for name, c in entry['linear_pick']['held_out'].items():
        line.append(f'{name} {c["flipped"]:.3f}/{c["kept"]:.3f}')
    line.append(f'| a random move of the same size: kept {entry["random_same_size"]["kept"]:.3f}')
    print(' '.join(line), flush=True)
  edit_setup.write_json(result)


if __name__ == '__main__':
  app.run(main)
