"""Flags and loading shared by the edit benchmarks (direction_layers.py, edit_side_effects.py,
guided_edits.py, judge_consistency.py):
a trained GAN (workdir checkpoint or --input=G.npz), its judge and its supervised directions."""

import json
import os

from absl import flags
from ml_collections import config_flags

from gan_jax.trainers import gan_editing

config_flags.DEFINE_config_file('config', None, 'The GAN config the generator was trained with.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'GAN workdir (checkpoint and edits/).')
_INPUT = flags.DEFINE_string('input', None, 'Optional generator .npz from --mode=export.')
_JUDGE = flags.DEFINE_string('judge', None, 'Attribute classifier workdir.')
_DIRECTIONS = flags.DEFINE_string('directions', None, 'Directions .npz (default: the workdir\'s).')
_OUTPUT = flags.DEFINE_string('output', None, 'Optional JSON file.')
flags.mark_flags_as_required(['config', 'workdir', 'judge'])


def load_generator_and_judge():
  """(G as a gan_editing.EditableGenerator, the judge) of the flags."""
  gen = gan_editing.load_editable(flags.FLAGS.config, _WORKDIR.value, _INPUT.value)
  return gen, gan_editing.restore_judge(_JUDGE.value, gen)


def load():
  """(G as a gan_editing.EditableGenerator, the judge, the InterFaceGAN directions) of the flags;
  the directions file defaults to WORKDIR/edits/directions.npz (--mode=directions')."""
  config = flags.FLAGS.config
  gen, judge = load_generator_and_judge()
  path = _DIRECTIONS.value or gan_editing.directions_path(config, _WORKDIR.value)
  return gen, judge, gan_editing.supervised_directions(path)


def header(gen) -> dict:
  """What every result JSON starts with: which generator (and step) and which judge."""
  return dict(generator=_INPUT.value or _WORKDIR.value, step=gen.step, judge=_JUDGE.value)


def write_json(result: dict) -> None:
  """Writes result to --output, if given."""
  if _OUTPUT.value:
    os.makedirs(os.path.dirname(os.path.abspath(_OUTPUT.value)), exist_ok=True)
    with open(_OUTPUT.value, 'w', encoding='utf-8') as f:
      json.dump(result, f, indent=2)
