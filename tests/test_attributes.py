import numpy as np
import pytest

from gan_jax import attributes
from gan_jax import errors

NAMES = ('Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Male', 'Young')


def test_single_attribute_targets_follow_stargan_grids():
  c_org = np.asarray([[1, 0, 0, 1, 0]], np.float32)
  targets = attributes.single_attribute_targets(c_org, NAMES)
  assert targets.shape == (5, 1, 5)
  np.testing.assert_array_equal(targets[0, 0], [1, 0, 0, 1, 0])   # black stays black
  np.testing.assert_array_equal(targets[1, 0], [0, 1, 0, 1, 0])   # -> blond, black off
  np.testing.assert_array_equal(targets[2, 0], [0, 0, 1, 1, 0])
  np.testing.assert_array_equal(targets[3, 0], [1, 0, 0, 0, 0])   # Male flipped
  np.testing.assert_array_equal(targets[4, 0], [1, 0, 0, 1, 1])   # Young flipped


def test_make_exclusive_keeps_highest_scoring_member():
  labels = np.asarray([[1, 1, 0, 1, 0], [0, 0, 0, 0, 1]], np.float32)
  scores = np.asarray([[0.5, 2.0, -1, 3, -3], [-1, -2, -3, -1, 1]], np.float32)
  out = attributes.make_exclusive(labels, scores, NAMES)
  np.testing.assert_array_equal(out, [[0, 1, 0, 1, 0], [0, 0, 0, 0, 1]])


def test_parse_and_apply_target():
  target = attributes.parse_target('Blond_Hair=1, Male=0', NAMES)
  assert target == {'Blond_Hair': 1.0, 'Male': 0.0}
  c_org = np.asarray([[1, 0, 0, 1, 1]], np.float32)
  np.testing.assert_array_equal(attributes.apply_target(c_org, target, NAMES), [[0, 1, 0, 0, 1]])
  assert attributes.parse_target('', NAMES) == {}


@pytest.mark.parametrize('text,message', [
    ('Blond_Hair', 'NAME=0 or NAME=1'), ('Blond_Hair=2', 'NAME=0 or NAME=1'),
    ('Bald=1', 'unknown attribute'), ('Blond_Hair=1,Black_Hair=1', 'mutually exclusive')])
def test_parse_target_errors(text, message):
  with pytest.raises(errors.ConfigError, match=message):
    attributes.parse_target(text, NAMES)
