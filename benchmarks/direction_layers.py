"""Which w+ layers carry each attribute: each InterFaceGAN direction on one layer range at a time.

  python benchmarks/direction_layers.py --config=configs/stylegan.py:synthetic \
      --workdir=runs/sg32 --judge=runs/cls_synth \
      --output=benchmarks/results/stylegan_synthetic/direction_layers.json

For every supervised direction of --directions (default: the workdir's --mode=directions file),
edits --num_samples fresh samples (seed --seed) by +-strength (towards the other value, as
--mode=directions judges them) on each candidate layer range: all layers, and every range of
whole resolutions (layers 2k and 2k+1 share one). Reports flipped / kept per range and strength,
picks the (range, strength) with the best min(flipped, kept) on those samples, and re-judges that
choice on --num_eval other samples (seed --seed + 1000), so the reported pick is not scored on the
samples that chose it. --input=G.npz reads an exported generator instead of the workdir's
checkpoint (the directions file then defaults to WORKDIR/edits/directions.npz all the same).
"""

import dataclasses
import os
import sys

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import edit_setup  # pylint: disable=wrong-import-position
from gan_jax import metric_writer  # pylint: disable=wrong-import-position
from gan_jax.editing import edits as edits_lib  # pylint: disable=wrong-import-position
from gan_jax.trainers import gan_editing  # pylint: disable=wrong-import-position

_NUM = flags.DEFINE_integer('num_samples', 300, 'Samples per (range, strength) to choose on.')
_NUM_EVAL = flags.DEFINE_integer('num_eval', 500, 'Other samples that judge the chosen pick.')
_STRENGTHS = flags.DEFINE_list('strengths', ['2', '4', '6', '8'], 'Edit strengths (std units).')
_SEED = flags.DEFINE_integer('seed', 7, 'Seed of the choosing samples.')


def score(gen, judge, direction, strength, latents, judged_in, seed) -> dict:
  c = gan_editing.edit_counts(gen, judge, direction, strength, latents, judged_in, seed)
  return dict(flipped=c.transfer_accuracy, kept=c.preservation, changed=c.changed)


def main(argv):
  del argv
  metric_writer.quiet_library_info_logs()
  gen, judge, directions = edit_setup.load()
  strengths = [float(s) for s in _STRENGTHS.value]
  choose = gan_editing.judged_samples(gen, judge, _SEED.value, _NUM.value)
  held_out = gan_editing.judged_samples(gen, judge, _SEED.value + 1000, _NUM_EVAL.value)
  result = dict(**edit_setup.header(gen), num_ws=gen.num_ws, num_samples=_NUM.value,
                num_eval=_NUM_EVAL.value, directions={})
  for d in directions:
    rows = []
    for layers in [None] + edits_lib.resolution_layer_ranges(gen.num_ws):
      for s in strengths:
        rows.append(dict(layers=layers, strength=s, **score(
            gen, judge, dataclasses.replace(d, layers=layers), s, *choose, _SEED.value)))
    best = max(rows, key=lambda r: (min(r['flipped'], r['kept']), r['flipped']))
    pick = dataclasses.replace(d, layers=best['layers'])
    held = score(gen, judge, pick, best['strength'], *held_out, _SEED.value + 1000)
    result['directions'][d.name] = dict(train_accuracy=d.info.get('train_accuracy'), sweep=rows,
                                        pick=dict(layers=best['layers'],
                                                  strength=best['strength'], **held))
    table = '  '.join(f'{r["strength"]:g}:{r["flipped"]:.2f}/{r["kept"]:.2f}' for r in rows
                      if r['layers'] is None)
    print(f'{d.name:<12} all layers {table}; pick layers {best["layers"]} strength '
          f'{best["strength"]:g}: held out {held["flipped"]:.3f} flipped / {held["kept"]:.3f} '
          f'kept', flush=True)
  edit_setup.write_json(result)


if __name__ == '__main__':
  app.run(main)
