"""Tests of the synthetic faces: determinism, labels, counterfactuals, visibility of attributes."""

from __future__ import annotations

import concurrent.futures
import dataclasses

import chex
import numpy as np
import pytest

from gan_jax.data import base
from gan_jax.data import synthetic_faces as sf

SEVEN = ('Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Male', 'Young', 'Eyeglasses', 'Smiling')
BINARY = tuple(a for a in sf.ALL_ATTRS if a not in sf.HAIR_ATTRS)
ATTR_FIELDS = ('hair_color', 'male', 'young', 'eyeglasses', 'smiling', 'bangs', 'mouth_open')


def _params(i: int, seed: int = 7) -> sf.FaceParams:
  return sf.sample_face_params(np.random.default_rng([seed, i]))


def _nuisance(params: sf.FaceParams) -> dict:
  fields = dataclasses.asdict(params)
  return {k: v for k, v in fields.items() if k not in ATTR_FIELDS}


def _flip(params: sf.FaceParams, attr: str) -> sf.FaceParams:
  """The same face with one attribute negated (a hair colour set False gives 'other')."""
  value = bool(sf.face_labels(params, [attr])[0])
  return sf.with_attributes(params, **{attr: not value})


def _abs_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """Per-pixel sum over channels of |a - b|: float [H, W]."""
  return np.abs(a.astype(np.float32) - b.astype(np.float32)).sum(-1)


# ---------------------------------------------------------------------------------------------
# The source: determinism, splits, shapes, errors, cache.


def test_same_seed_and_index_give_identical_bytes():
  a = sf.SyntheticFaces(64, SEVEN, 50, seed=3)
  b = sf.SyntheticFaces(64, SEVEN, 50, seed=3)
  for i in (0, 17, 49):
    assert a[i]['image'].tobytes() == b[i]['image'].tobytes()
    np.testing.assert_array_equal(a[i]['label'], b[i]['label'])
    assert a.params(i) == b.params(i)


def test_different_seeds_give_different_faces():
  a = sf.SyntheticFaces(32, SEVEN, 10, seed=0)
  b = sf.SyntheticFaces(32, SEVEN, 10, seed=1)
  for i in range(5):
    assert a.params(i) != b.params(i)
    assert a[i]['image'].tobytes() != b[i]['image'].tobytes()


def test_examples_do_not_depend_on_dataset_size_or_access_order():
  small = sf.SyntheticFaces(32, SEVEN, 10, seed=5)
  large = sf.SyntheticFaces(32, SEVEN, 100_000, seed=5)
  backwards = [small[i]['image'] for i in reversed(range(10))][::-1]
  for i in range(10):
    np.testing.assert_array_equal(backwards[i], large[i]['image'])


def test_train_and_test_never_share_an_example():
  train = sf.SyntheticFaces(32, SEVEN, 300, seed=0, split='train')
  test = sf.SyntheticFaces(32, SEVEN, 300, seed=0, split='test')
  train_params = {train.params(i) for i in range(300)}
  assert not train_params & {test.params(i) for i in range(300)}
  assert train[0]['image'].tobytes() != test[0]['image'].tobytes()


@pytest.mark.parametrize('size', [16, 32, 48, 64, 128])
def test_shapes_and_dtypes(size):
  source = sf.SyntheticFaces(size, SEVEN, 4)
  example = source[1]
  chex.assert_shape(example['image'], (size, size, 3))
  chex.assert_type(example['image'], np.uint8)
  chex.assert_shape(example['label'], (len(SEVEN),))
  chex.assert_type(example['label'], np.float32)
  assert set(np.unique(example['label'])) <= {0.0, 1.0}
  assert source.attr_names == SEVEN and source.image_size == size and len(source) == 4


def test_labels_follow_the_requested_order_and_match_params():
  attrs = ('Smiling', 'Blond_Hair', 'Male', 'Bangs')
  source = sf.SyntheticFaces(32, attrs, 40, seed=2)
  for i in range(40):
    p = source.params(i)
    expected = [p.smiling, p.hair_color == 'blond', p.male, p.bangs]
    np.testing.assert_array_equal(source[i]['label'], np.array(expected, np.float32))
    np.testing.assert_array_equal(sf.face_labels(p, attrs), source[i]['label'])


def test_hair_colours_are_exclusive():
  for i in range(500):
    labels = sf.face_labels(_params(i), sf.HAIR_ATTRS)
    assert labels.sum() <= 1


def test_marginals_are_roughly_balanced():
  params = [_params(i, seed=123) for i in range(2000)]
  labels = np.stack([sf.face_labels(p, sf.ALL_ATTRS) for p in params])
  means = dict(zip(sf.ALL_ATTRS, labels.mean(0)))
  for attr in sf.HAIR_ATTRS:
    assert 0.22 <= means[attr] <= 0.32, (attr, means[attr])
  other = 1 - labels[:, :3].sum(1).mean()
  assert 0.14 <= other <= 0.25, other
  for attr in BINARY:
    assert 0.38 <= means[attr] <= 0.62, (attr, means[attr])
  # Hair length goes with sex, but is not a give-away.
  long_hair = np.array([p.hair_style in ('long', 'bob') for p in params])
  male = labels[:, sf.ALL_ATTRS.index('Male')] == 1
  assert 0.05 < long_hair[male].mean() < 0.3 and 0.3 < long_hair[~male].mean() < 0.8


@pytest.mark.parametrize('kwargs, fragment', [
    (dict(attrs=('Blond_Hair', 'Bald')), 'Valid names'),
    (dict(attrs=()), 'empty'),
    (dict(split='validation'), 'train'),
    (dict(num_examples=0), 'num_examples'),
    (dict(image_size=8), 'image_size'),
    (dict(seed=-1), 'seed'),
])
def test_bad_config_raises_data_config_error(kwargs, fragment):
  config = dict(image_size=64, attrs=SEVEN, num_examples=10, seed=0, split='train')
  config.update(kwargs)
  with pytest.raises(base.DataConfigError, match=fragment):
    sf.SyntheticFaces(**config)


def test_index_errors_and_negative_indices():
  source = sf.SyntheticFaces(16, SEVEN, 5)
  with pytest.raises(IndexError):
    source[5]
  with pytest.raises(IndexError):
    source[-6]
  np.testing.assert_array_equal(source[-1]['image'], source[4]['image'])
  np.testing.assert_array_equal(source[np.int64(2)]['image'], source[2]['image'])


def test_cache_returns_read_only_shared_arrays_and_stays_bounded():
  source = sf.SyntheticFaces(32, SEVEN, 50, cache_bytes=3 * 32 * 32 * 3)
  first = source[3]
  assert source[3]['image'] is first['image']
  assert not first['image'].flags.writeable and not first['label'].flags.writeable
  for i in range(20):
    source[i]
  assert len(source._cache) == 3


def test_concurrent_access_matches_serial_rendering():
  shared = sf.SyntheticFaces(32, SEVEN, 64, seed=9)
  with concurrent.futures.ThreadPoolExecutor(4) as pool:
    images = list(pool.map(lambda i: shared[i % 32]['image'], range(64)))
  for i in range(32):
    expected = sf.render_face(shared.params(i), 32)
    np.testing.assert_array_equal(images[i], expected)
    np.testing.assert_array_equal(images[i + 32], expected)


def test_images_use_the_uint8_range_and_are_not_flat():
  images = np.stack([sf.render_face(_params(i), 64) for i in range(16)])
  assert images.min() <= 30 and images.max() >= 225
  assert all(image.std() > 20 for image in images)


# ---------------------------------------------------------------------------------------------
# Counterfactuals.


@pytest.mark.parametrize('attr', sf.ALL_ATTRS)
def test_with_attributes_changes_only_the_named_label_and_the_pixels(attr):
  for i in range(8):
    p = _params(i)
    q = _flip(p, attr)
    before, after = sf.face_labels(p, sf.ALL_ATTRS), sf.face_labels(q, sf.ALL_ATTRS)
    changed = {a for a, x, y in zip(sf.ALL_ATTRS, before, after) if x != y}
    assert attr in changed
    allowed = set(sf.HAIR_ATTRS) if attr in sf.HAIR_ATTRS else {attr}
    assert changed <= allowed
    assert _nuisance(p) == _nuisance(q)
    diff = _abs_diff(sf.render_face(p, 64), sf.render_face(q, 64))
    assert (diff > 60).sum() >= 4 and diff.mean() > 0.25, (attr, i, (diff > 60).sum())


def test_with_attributes_hair_group_semantics():
  p = sf.with_attributes(_params(0), Black_Hair=True)
  assert p.hair_color == 'black'
  blond = sf.with_attributes(p, Blond_Hair=True, Male=False)
  np.testing.assert_array_equal(sf.face_labels(blond, ('Black_Hair', 'Blond_Hair', 'Brown_Hair',
                                                       'Male')), [0, 1, 0, 0])
  none = sf.with_attributes(p, Black_Hair=False, Blond_Hair=False, Brown_Hair=False)
  assert none.hair_color == 'other'
  assert none == sf.with_attributes(p, Black_Hair=False)   # the same deterministic 'other'
  assert sf.with_attributes(p, Blond_Hair=False) == p       # clearing another colour: no-op
  assert sf.with_attributes(p) == p


def test_with_attributes_round_trip():
  for i in range(20):
    p = _params(i)
    original = {a: bool(v) for a, v in zip(sf.ALL_ATTRS, sf.face_labels(p, sf.ALL_ATTRS))}
    flipped = sf.with_attributes(p, **{a: not v for a, v in original.items() if a not in
                                       sf.HAIR_ATTRS}, Brown_Hair=not original['Brown_Hair'])
    if p.hair_color == 'other':
      restore = dict(original)   # all three hair colours False
    else:
      restore = {a: v for a, v in original.items() if v or a not in sf.HAIR_ATTRS}
    assert sf.with_attributes(flipped, **restore) == p


def test_with_attributes_rejects_bad_requests():
  p = _params(0)
  with pytest.raises(base.DataConfigError, match='Valid names'):
    sf.with_attributes(p, Bald=True)
  with pytest.raises(ValueError, match='exclusive'):
    sf.with_attributes(p, Black_Hair=True, Blond_Hair=True)
  with pytest.raises(ValueError, match='bool'):
    sf.with_attributes(p, Male='yes')
  with pytest.raises(base.DataConfigError):
    sf.face_labels(p, ['Wavy_Hair'])


def test_faces_with_identical_attributes_still_differ_substantially():
  diffs = []
  for i in range(10):
    p = _params(2 * i)
    labels = {a: bool(v) for a, v in zip(sf.ALL_ATTRS, sf.face_labels(p, sf.ALL_ATTRS))}
    if p.hair_color == 'other':
      labels['Black_Hair'] = True   # 'other' colours differ between faces by design
      p = sf.with_attributes(p, Black_Hair=True)
    q = sf.with_attributes(_params(2 * i + 1), **labels)
    np.testing.assert_array_equal(sf.face_labels(p, sf.ALL_ATTRS), sf.face_labels(q, sf.ALL_ATTRS))
    diffs.append(_abs_diff(sf.render_face(p, 64), sf.render_face(q, 64)).mean() / 3)
  assert min(diffs) > 15 and np.median(diffs) > 30, diffs


# ---------------------------------------------------------------------------------------------
# The attributes are visible: learnable from pixels, and drawn where they belong.


def _softmax_regression(x_train, y_train, x_test, classes, steps=300, lr=0.5, l2=1e-3):
  """Multinomial logistic regression by gradient descent; returns predicted classes of x_test."""
  mean, std = x_train.mean(0), x_train.std(0) + 1e-3
  x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
  w = np.zeros((x_train.shape[1], classes), np.float32)
  b = np.zeros(classes, np.float32)
  onehot = np.eye(classes, dtype=np.float32)[y_train]
  for _ in range(steps):
    z = x_train @ w + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    g = (p - onehot) / len(x_train)
    w -= lr * (x_train.T @ g + l2 * w)
    b -= lr * g.sum(0)
  return (x_test @ w + b).argmax(1)


def test_hair_colour_is_learnable_from_pixels():
  n, n_train = 1200, 800
  source = sf.SyntheticFaces(32, sf.HAIR_ATTRS, n, seed=11)
  images = np.stack([source[i]['image'] for i in range(n)]).astype(np.float32) / 255
  labels = np.stack([source[i]['label'] for i in range(n)])
  hair = np.where(labels.any(1), labels.argmax(1), 3)   # black, blond, brown, other
  # A linear model on 16x16 pixels, despite random backgrounds, clothes, pose and skin.
  pixels = images.reshape(n, 16, 2, 16, 2, 3).mean((2, 4)).reshape(n, -1)
  predicted = _softmax_regression(pixels[:n_train], hair[:n_train], pixels[n_train:], 4)
  accuracy = (predicted == hair[n_train:]).mean()
  assert accuracy > 0.65, accuracy   # chance is about 0.27
  # The colour families are distinct: nearest centroid on the colour at the crown of the head.
  crowns = []
  for i in range(n):
    x, y = sf.face_landmarks(source.params(i), 32)['crown'].astype(int)
    crowns.append(images[i, y - 1:y + 2, x - 1:x + 2].reshape(-1, 3).mean(0))
  crowns = np.array(crowns)
  train, test = np.arange(n) < n_train, (np.arange(n) >= n_train) & (hair < 3)
  centroids = np.stack([crowns[train & (hair == c)].mean(0) for c in range(3)])
  nearest = ((crowns[test][:, None] - centroids[None]) ** 2).sum(-1).argmin(1)
  assert (nearest == hair[test]).mean() > 0.93


def _where_the_change_is(attr: str, count: int = 12, size: int = 64):
  """For `count` unrotated faces, the fractions of the pixel change of flipping `attr` in regions.

  Returns a dict region -> float [count] (fraction of the total |difference| inside it).
  """
  rows = np.arange(size)[:, None] + 0.5
  cols = np.arange(size)[None, :] + 0.5
  fractions = {k: [] for k in ('eyes', 'mouth', 'above_brows', 'below_eyes', 'in_face',
                               'outside_inner_face')}
  for i in range(count):
    p = dataclasses.replace(_params(i, seed=31), rotation=0.0)
    diff = _abs_diff(sf.render_face(p, size), sf.render_face(_flip(p, attr), size))
    marks = sf.face_landmarks(p, size)
    half_w, half_h = marks['half_size']
    (cx, cy), eye_y, mouth_y = marks['center'], marks['left_eye'][1], marks['mouth'][1]
    regions = {
        'eyes': np.abs(rows - eye_y) <= 0.3 * half_h,
        'mouth': (rows >= mouth_y - 0.25 * half_h) & (rows <= mouth_y + 0.3 * half_h),
        'above_brows': rows <= marks['brows'][1] + 0.05 * half_h,
        'below_eyes': rows >= eye_y + 0.15 * half_h,
        'in_face': ((cols - cx) / half_w) ** 2 + ((rows - cy) / half_h) ** 2 <= 1.1,
        'outside_inner_face': (((cols - cx) / (0.8 * half_w)) ** 2 +
                               ((rows - cy - 0.2 * half_h) / (0.8 * half_h)) ** 2 > 1),
    }
    for name, region in regions.items():
      fractions[name].append((diff * region).sum() / diff.sum())
  return {k: np.array(v) for k, v in fractions.items()}


def test_glasses_change_the_eye_rows():
  where = _where_the_change_is('Eyeglasses')
  assert where['eyes'].min() > 0.9 and where['in_face'].min() > 0.9


def test_smiling_changes_the_mouth_and_cheeks():
  where = _where_the_change_is('Smiling')
  assert where['in_face'].min() > 0.95
  assert np.median(where['mouth']) > 0.5
  assert (where['mouth'] + where['eyes']).min() > 0.9   # the mouth, and the eyes narrow


def test_mouth_open_changes_the_mouth():
  where = _where_the_change_is('Mouth_Slightly_Open')
  assert where['mouth'].min() > 0.9


def test_bangs_change_the_forehead():
  where = _where_the_change_is('Bangs')
  assert where['above_brows'].min() > 0.9


def test_male_changes_the_lower_face():
  where = _where_the_change_is('Male')
  assert where['below_eyes'].min() > 0.7 and np.median(where['in_face']) > 0.8


def test_age_changes_the_face_from_forehead_to_mouth():
  where = _where_the_change_is('Young')
  assert where['in_face'].min() > 0.95
  assert np.median(where['above_brows']) > 0.3 and np.median(where['below_eyes']) > 0.1


@pytest.mark.parametrize('attr', sf.HAIR_ATTRS)
def test_hair_colour_changes_the_hair(attr):
  where = _where_the_change_is(attr)
  assert where['outside_inner_face'].min() > 0.5 and np.median(where['outside_inner_face']) > 0.85


def test_landmarks_follow_the_rotation():
  p = dataclasses.replace(_params(3), rotation=8.0, eyeglasses=False)
  marks = sf.face_landmarks(p, 64)
  dx, dy = marks['right_eye'] - marks['left_eye']
  assert np.degrees(np.arctan2(-dy, dx)) == pytest.approx(8.0)   # counter-clockwise on screen
  # The glasses (drawn around the eyes) are centred where the landmarks put the eyes.
  diff = _abs_diff(sf.render_face(p, 64), sf.render_face(sf.with_attributes(p, Eyeglasses=True),
                                                          64))
  rows, cols = np.mgrid[:64, :64] + 0.5
  centre = np.array([(diff * cols).sum(), (diff * rows).sum()]) / diff.sum()
  np.testing.assert_allclose(centre, (marks['left_eye'] + marks['right_eye']) / 2, atol=2.0)
