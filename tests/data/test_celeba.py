"""gan_jax.data.celeba on CelebA written here in its official layout, on ../shared/data, and on
tfds.testing.mock_data. Offline and fast."""

from __future__ import annotations

import concurrent.futures
import io
import logging
import os
import pathlib
import random
import subprocess
import sys
import time

import chex
import numpy as np
import pytest
from PIL import Image

from gan_jax.data import base
from gan_jax.data import celeba

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / 'shared' / 'data'

# Line 2 of the official list_attr_celeba.txt (copied from ../shared/data/celeba_89x109).
OFFICIAL_NAMES = (
    '5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose '
    'Black_Hair Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee '
    'Gray_Hair Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes '
    'No_Beard Oval_Face Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling '
    'Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace '
    'Wearing_Necktie Young ').split()
STARGAN_ATTRS = ('Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Male', 'Young')
NUM_ROWS, TEST_SIZE = 40, 10
WIDTH, HEIGHT = 178, 218


# ---------------------------------------------------------------------------------------------
# Writing CelebA in its official layout
# ---------------------------------------------------------------------------------------------

def filename(i: int) -> str:
  return f'{i + 1:06d}.jpg'


def write_attr_file(path: pathlib.Path, names, values: np.ndarray, newline: str = '\n',
                    trailing: str = '') -> None:
  """list_attr_celeba.txt as CelebA ships it: count, names (with a trailing space), then
  `000001.jpg -1  1 ...` rows; values int [N, K] in {-1, 1}."""
  lines = [str(len(values)), ' '.join(names) + ' ']
  lines += [filename(i) + ' ' + ' '.join(f'{v:2d}' for v in row) for i, row in enumerate(values)]
  path.write_text(newline.join(lines) + newline + trailing)


def random_face(rng: np.random.Generator, size=(WIDTH, HEIGHT)) -> Image.Image:
  return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def write_celeba(root: pathlib.Path, num_rows: int = NUM_ROWS, seed: int = 0,
                 images: dict[int, Image.Image] | None = None, skip=()) -> np.ndarray:
  """Writes root/img_align_celeba/*.jpg and root/list_attr_celeba.txt; returns the ±1 values
  [num_rows, 40]. `images` replaces row i's random face; rows in `skip` get no image file."""
  rng = np.random.default_rng(seed)
  values = rng.choice(np.array([-1, 1]), size=(num_rows, len(OFFICIAL_NAMES)))
  image_dir = root / 'img_align_celeba'
  image_dir.mkdir(parents=True)
  for i in range(num_rows):
    if i in skip:
      continue
    if images and i in images:   # sharp edges: no chroma subsampling, so colours stay put
      images[i].save(image_dir / filename(i), format='JPEG', quality=100, subsampling=0)
    else:
      random_face(rng).save(image_dir / filename(i), format='JPEG', quality=95)
  write_attr_file(root / 'list_attr_celeba.txt', OFFICIAL_NAMES, values)
  return values


@pytest.fixture(scope='module')
def fake_celeba(tmp_path_factory):
  root = tmp_path_factory.mktemp('celeba')
  return root, write_celeba(root)


def row_of(source: celeba.CelebAFolder, index: int) -> int:
  return int(os.path.basename(source.path_of(index))[:6]) - 1


def shuffled_rows(num_rows: int) -> list[int]:
  """The data rows in the order StarGAN shuffles them, shuffling the lines themselves."""
  lines = [filename(i) for i in range(num_rows)]
  random.Random(1234).shuffle(lines)
  return [int(line[:6]) - 1 for line in lines]


# ---------------------------------------------------------------------------------------------
# Labels, split, sizes
# ---------------------------------------------------------------------------------------------

def test_attribute_names_match_the_official_file():
  assert celeba.CELEBA_ATTR_NAMES == tuple(OFFICIAL_NAMES)


@pytest.mark.parametrize('split', ['train', 'test'])
def test_labels_are_the_file_values_in_config_order(fake_celeba, split):
  root, values = fake_celeba
  attrs = ('Young', 'Black_Hair', 'Male', '5_o_Clock_Shadow')   # not the file's order
  source = celeba.CelebAFolder(str(root), attrs, 16, split=split, test_size=TEST_SIZE)
  assert source.attr_names == attrs
  columns = [OFFICIAL_NAMES.index(a) for a in attrs]
  for i in range(len(source)):
    expected = (values[row_of(source, i), columns] == 1).astype(np.float32)
    np.testing.assert_array_equal(source[i]['label'], expected)


def test_split_is_disjoint_and_in_stargan_order(fake_celeba):
  root, _ = fake_celeba
  train = celeba.CelebAFolder(str(root), STARGAN_ATTRS, 8, split='train', test_size=TEST_SIZE)
  test = celeba.CelebAFolder(str(root), STARGAN_ATTRS, 8, split='test', test_size=TEST_SIZE)
  assert (len(train), len(test)) == (NUM_ROWS - TEST_SIZE, TEST_SIZE)
  train_rows = [row_of(train, i) for i in range(len(train))]
  test_rows = [row_of(test, i) for i in range(len(test))]
  assert not set(train_rows) & set(test_rows)
  assert sorted(train_rows + test_rows) == list(range(NUM_ROWS))
  order = shuffled_rows(NUM_ROWS)
  assert test_rows == order[:TEST_SIZE]
  assert train_rows == order[TEST_SIZE:]


def test_split_reproduces_the_stargan_reference_loop():
  """yunjey/stargan: random.seed(1234); random.shuffle(lines); test if (i + 1) < 2000."""
  lines = [filename(i) for i in range(NUM_ROWS)]
  reference_rng = random.Random()
  reference_rng.seed(1234)
  reference_rng.shuffle(lines)
  threshold = 12   # stands for the reference's 2000
  reference_test = [int(l[:6]) - 1 for i, l in enumerate(lines) if (i + 1) < threshold]
  reference_train = [int(l[:6]) - 1 for i, l in enumerate(lines) if (i + 1) >= threshold]
  assert celeba.stargan_split(NUM_ROWS, threshold - 1, 'test') == reference_test
  assert celeba.stargan_split(NUM_ROWS, threshold - 1, 'train') == reference_train


@pytest.mark.parametrize('image_size', [32, 17])
def test_images_are_uint8_squares(fake_celeba, image_size):
  root, _ = fake_celeba
  source = celeba.CelebAFolder(str(root), STARGAN_ATTRS, image_size, test_size=TEST_SIZE)
  example = source[0]
  chex.assert_shape(example['image'], (image_size, image_size, 3))
  chex.assert_type(example['image'], np.uint8)
  chex.assert_shape(example['label'], (len(STARGAN_ATTRS),))
  chex.assert_type(example['label'], np.float32)
  assert source.image_size == image_size


def test_concurrent_reads_match_sequential_reads(fake_celeba):
  root, _ = fake_celeba
  source = celeba.CelebAFolder(str(root), STARGAN_ATTRS, 16, test_size=TEST_SIZE)
  indices = list(range(len(source))) * 2
  sequential = [source[i]['image'] for i in indices]
  with concurrent.futures.ThreadPoolExecutor(4) as pool:
    parallel = list(pool.map(lambda i: source[i]['image'], indices))
  for a, b in zip(sequential, parallel):
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# Crop geometry
# ---------------------------------------------------------------------------------------------

GREEN, MAGENTA, RED, BLUE = (0, 200, 0), (220, 0, 220), (230, 20, 20), (20, 20, 230)


def framed(size, inner_box, inner, outer) -> Image.Image:
  """An RGB image of `size` (W, H) coloured `outer` with the box (left, top, right, bottom)
  coloured `inner`."""
  image = Image.new('RGB', size, outer)
  image.paste(inner, inner_box)
  return image


def assert_colour(pixels: np.ndarray, colour, tolerance: float = 24.0):
  error = np.abs(pixels.astype(np.float32) - np.array(colour, np.float32))
  assert error.max() <= tolerance, (error.max(), pixels.reshape(-1, 3).mean(axis=0))


def source_with_images(root: pathlib.Path, images: dict[int, Image.Image], image_size: int,
                       crop: int) -> tuple[celeba.CelebAFolder, dict[int, int]]:
  """A train-only source over len(images) rows; returns it and row -> index."""
  write_celeba(root, num_rows=len(images), images=images)
  source = celeba.CelebAFolder(str(root), STARGAN_ATTRS, image_size, crop=crop, test_size=0)
  return source, {row_of(source, i): i for i in range(len(source))}


def test_crop_178_keeps_the_centred_square(tmp_path):
  # Full width, vertically centred: rows 20..198 of 218 (StarGAN's CenterCrop(178)).
  image = framed((WIDTH, HEIGHT), (0, 20, WIDTH, 198), GREEN, MAGENTA)
  source, index = source_with_images(tmp_path, {0: image, 1: image}, 32, crop=178)
  assert_colour(source[index[0]]['image'], GREEN)


def test_smaller_crop_zooms_on_the_centre(tmp_path):
  # An 89x89 red square in the centre: left (178 - 89) // 2 = 44, top (218 - 89) // 2 = 64.
  image = framed((WIDTH, HEIGHT), (44, 64, 44 + 89, 64 + 89), RED, BLUE)
  source, index = source_with_images(tmp_path / 'a', {0: image, 1: image}, 24, crop=89)
  assert_colour(source[index[0]]['image'], RED)
  wide, index = source_with_images(tmp_path / 'b', {0: image, 1: image}, 24, crop=178)
  pixels = wide[index[0]]['image']
  assert_colour(pixels[:, :2], BLUE)                # the 178-wide crop reaches the blue sides
  assert_colour(pixels[10:14, 10:14], RED)


def test_crop_scales_with_the_resolution_on_disk(tmp_path):
  # A half-size (89x109) copy: crop=178 is the full width, rows 10..99.
  image = framed((89, 109), (0, 10, 89, 99), GREEN, MAGENTA)
  source, index = source_with_images(tmp_path, {0: image, 1: image}, 16, crop=178)
  assert_colour(source[index[0]]['image'], GREEN)


# ---------------------------------------------------------------------------------------------
# Configuration errors, raised by the constructor
# ---------------------------------------------------------------------------------------------

def test_missing_folder(tmp_path):
  with pytest.raises(base.DataConfigError, match='does not exist.*config.data.path'):
    celeba.CelebAFolder(str(tmp_path / 'nowhere'), STARGAN_ATTRS, 64)


def test_missing_attribute_file(tmp_path):
  (tmp_path / 'img_align_celeba').mkdir()
  with pytest.raises(base.DataConfigError, match='No CelebA attribute file.*list_attr_celeba.txt'):
    celeba.CelebAFolder(str(tmp_path), STARGAN_ATTRS, 64)


def test_missing_image_folder(tmp_path):
  write_attr_file(tmp_path / 'list_attr_celeba.txt', OFFICIAL_NAMES, np.ones((3, 40), int))
  with pytest.raises(base.DataConfigError, match='No CelebA image folder.*img_align_celeba'):
    celeba.CelebAFolder(str(tmp_path), STARGAN_ATTRS, 64)


def test_unknown_attribute_lists_the_valid_names(fake_celeba):
  root, _ = fake_celeba
  with pytest.raises(base.DataConfigError) as e:
    celeba.CelebAFolder(str(root), ('Blonde_Hair', 'Male'), 64, test_size=TEST_SIZE)
  assert "'Blonde_Hair'" in str(e.value) and 'Blond_Hair' in str(e.value)


def corrupt_attr_file(root: pathlib.Path, lineno: int, new_line: str) -> None:
  path = root / 'list_attr_celeba.txt'
  lines = path.read_text().split('\n')
  lines[lineno - 1] = new_line
  path.write_text('\n'.join(lines))


@pytest.mark.parametrize('lineno, new_line, message', [
    (7, '000005.jpg' + ' -1' * 39, r'line 7 is malformed: 39 values instead of 40'),
    (9, '000007.jpg' + ' 1' * 20 + ' 2' + ' -1' * 19, r"line 9 is malformed: '2' for Male"),
    (1, 'forty', r'line 1 is malformed: expected the number of images'),
    (10, '000001.jpg' + ' 1' * 40, r'line 10: 000001.jpg appears twice'),
])
def test_malformed_attribute_file_names_the_line(tmp_path, lineno, new_line, message):
  write_celeba(tmp_path, num_rows=12)
  corrupt_attr_file(tmp_path, lineno, new_line)
  with pytest.raises(base.DataConfigError, match=message):
    celeba.CelebAFolder(str(tmp_path), STARGAN_ATTRS, 64, test_size=2)


@pytest.mark.parametrize('kwargs, message', [
    (dict(crop=0), r'crop=0 must be in \(0, 178\]'),
    (dict(crop=179), r'crop=179 must be in \(0, 178\]'),
    (dict(test_size=NUM_ROWS), r'test_size=40 must be in \[0, 40\)'),
    (dict(split='validation'), r"split must be one of \('train', 'test'\)"),
    (dict(test_size=0, split='test'), r"'test' split is empty"),
])
def test_bad_arguments(fake_celeba, kwargs, message):
  root, _ = fake_celeba
  with pytest.raises(base.DataConfigError, match=message):
    celeba.CelebAFolder(str(root), STARGAN_ATTRS, 64, **kwargs)


def test_crlf_and_trailing_blank_lines_are_accepted(tmp_path):
  values = write_celeba(tmp_path, num_rows=6)
  write_attr_file(tmp_path / 'list_attr_celeba.txt', OFFICIAL_NAMES, values, newline='\r\n',
                  trailing='\r\n  \n\n')
  source = celeba.CelebAFolder(str(tmp_path), ('Male',), 8, test_size=1)
  assert len(source) == 5


# ---------------------------------------------------------------------------------------------
# Missing and unreadable images
# ---------------------------------------------------------------------------------------------

def test_rows_without_images_are_dropped_with_one_warning(tmp_path, caplog):
  skip = {3, 17, 30}
  write_celeba(tmp_path, skip=skip)
  caplog.set_level(logging.WARNING)
  sizes, warnings = [], []
  for split in ('train', 'test'):
    caplog.clear()
    source = celeba.CelebAFolder(str(tmp_path), STARGAN_ATTRS, 8, split=split,
                                 test_size=TEST_SIZE)
    sizes.append(len(source))
    assert not {row_of(source, i) for i in range(len(source))} & skip
    records = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(records) <= 1
    warnings += [r.getMessage() for r in records]
  assert sum(sizes) == NUM_ROWS - len(skip)
  text = ' '.join(warnings)
  assert all(filename(i) in text for i in skip)
  counts = [int(w.split('CelebAFolder: ')[1].split(' of')[0]) for w in warnings]
  assert sum(counts) == len(skip)


def test_no_images_at_all_is_a_config_error(tmp_path):
  write_celeba(tmp_path, num_rows=5, skip=set(range(5)))
  with pytest.raises(base.DataConfigError, match='None of the 4 .train. rows'):
    celeba.CelebAFolder(str(tmp_path), STARGAN_ATTRS, 8, test_size=1)


def truncated_jpeg(rng) -> bytes:
  buffer = io.BytesIO()
  random_face(rng).save(buffer, format='JPEG')
  return buffer.getvalue()[:len(buffer.getvalue()) // 2]


def encoded(image: Image.Image, format: str) -> bytes:   # pylint: disable=redefined-builtin
  buffer = io.BytesIO()
  image.save(buffer, format=format)
  return buffer.getvalue()


@pytest.fixture
def odd_files_celeba(tmp_path):
  """Rows 0-4: truncated JPEG, 16-bit PNG, float TIFF, grayscale JPEG, transparent RGBA PNG,
  all named .jpg as in img_align_celeba/."""
  write_celeba(tmp_path, num_rows=6)
  rng = np.random.default_rng(1)
  contents = {
      0: truncated_jpeg(rng),
      1: encoded(Image.fromarray(np.full((HEIGHT, WIDTH), 40000, np.uint16)), 'PNG'),
      2: encoded(Image.fromarray(np.ones((HEIGHT, WIDTH), np.float32)), 'TIFF'),
      3: encoded(Image.new('L', (WIDTH, HEIGHT), 90), 'JPEG'),
      4: encoded(Image.new('RGBA', (WIDTH, HEIGHT), (255, 0, 0, 0)), 'PNG'),
  }
  for row, data in contents.items():
    (tmp_path / 'img_align_celeba' / filename(row)).write_bytes(data)
  source = celeba.CelebAFolder(str(tmp_path), STARGAN_ATTRS, 16, test_size=0)
  return source, {row_of(source, i): i for i in range(len(source))}


@pytest.mark.parametrize('row, reason', [(0, 'truncated'), (1, "mode 'I;16'"), (2, "mode 'F'")])
def test_unreadable_images_raise_from_getitem(odd_files_celeba, row, reason):
  source, index = odd_files_celeba
  with pytest.raises(base.UnreadableImageError, match=reason) as e:
    source[index[row]]
  assert e.value.where == source.path_of(index[row])


def test_grayscale_and_rgba_are_converted(odd_files_celeba):
  source, index = odd_files_celeba
  gray = source[index[3]]['image']
  chex.assert_shape(gray, (16, 16, 3))
  assert_colour(gray, (90, 90, 90), tolerance=2)
  transparent = source[index[4]]['image']
  assert_colour(transparent, (255, 255, 255), tolerance=0)   # composited on white


# ---------------------------------------------------------------------------------------------
# Layout discovery
# ---------------------------------------------------------------------------------------------

def test_anno_subfolder_and_overrides(tmp_path):
  write_celeba(tmp_path, num_rows=6)
  (tmp_path / 'Anno').mkdir()
  (tmp_path / 'list_attr_celeba.txt').rename(tmp_path / 'Anno' / 'list_attr_celeba.txt')
  assert len(celeba.CelebAFolder(str(tmp_path), ('Male',), 8, test_size=1)) == 5
  (tmp_path / 'img_align_celeba').rename(tmp_path / 'faces')
  (tmp_path / 'Anno' / 'list_attr_celeba.txt').rename(tmp_path / 'attrs.txt')
  source = celeba.CelebAFolder(str(tmp_path), ('Male',), 8, test_size=1, image_dir='faces',
                               attr_file='attrs.txt')
  assert source.path_of(0).startswith(str(tmp_path / 'faces'))


def test_single_glob_match_is_used_and_two_are_ambiguous(tmp_path):
  write_celeba(tmp_path, num_rows=6)
  attr_file = tmp_path / 'list_attr_celeba.txt'
  attr_file.rename(tmp_path / 'list_attr_celeba_000001-000006.txt')
  assert len(celeba.CelebAFolder(str(tmp_path), ('Male',), 8, test_size=1)) == 5
  (tmp_path / 'list_attr_celeba_copy.txt').write_text('')
  with pytest.raises(base.DataConfigError, match='Several attribute files'):
    celeba.CelebAFolder(str(tmp_path), ('Male',), 8, test_size=1)


# ---------------------------------------------------------------------------------------------
# The real copies in ../shared/data
# ---------------------------------------------------------------------------------------------

def read_values(attr_file: pathlib.Path) -> tuple[list[str], dict[str, list[int]]]:
  lines = attr_file.read_text().splitlines()
  return lines[1].split(), {l.split()[0]: [int(v) for v in l.split()[1:]] for l in lines[2:]}


@pytest.mark.skipif(not (SHARED_DATA / 'celeba_89x109').is_dir(),
                    reason='../shared/data/celeba_89x109 is absent')
def test_shared_celeba_89x109():
  folder = SHARED_DATA / 'celeba_89x109'
  names, values = read_values(folder / 'list_attr_celeba.txt')
  train = celeba.CelebAFolder(str(folder), STARGAN_ATTRS, 64, split='train')
  test = celeba.CelebAFolder(str(folder), STARGAN_ATTRS, 64, split='test')
  assert len(train) + len(test) == 9000
  assert len(test) == 2000
  for source in (train, test):
    for i in range(5):
      expected = [float(values[os.path.basename(source.path_of(i))][names.index(a)] == 1)
                  for a in STARGAN_ATTRS]
      np.testing.assert_array_equal(source[i]['label'], expected)
  chex.assert_shape(train[0]['image'], (64, 64, 3))


@pytest.mark.skipif(not (SHARED_DATA / 'celeba_178x218').is_dir(),
                    reason='../shared/data/celeba_178x218 is absent')
def test_shared_celeba_178x218():
  source = celeba.CelebAFolder(str(SHARED_DATA / 'celeba_178x218'), STARGAN_ATTRS, 128,
                               test_size=8)
  assert len(source) == 24
  assert os.path.basename(source.attr_file) == 'list_attr_celeba_000001-000032.txt'
  chex.assert_shape(source[0]['image'], (128, 128, 3))


# ---------------------------------------------------------------------------------------------
# TfdsCelebA
# ---------------------------------------------------------------------------------------------

def test_importing_the_module_does_not_import_tensorflow():
  code = ('import sys, gan_jax.data.celeba; '
          'assert "tensorflow" not in sys.modules and "tensorflow_datasets" not in sys.modules')
  subprocess.run([sys.executable, '-c', code], check=True, cwd=REPO_ROOT)


def test_tfds_unknown_attribute_fails_before_tfds():
  with pytest.raises(base.DataConfigError, match='Blonde_Hair'):
    celeba.TfdsCelebA(('Blonde_Hair',), 64)


def test_tfds_mock_data(tmp_path):
  tfds = pytest.importorskip('tensorflow_datasets')
  attrs = ('Young', 'Black_Hair', 'Male')
  with tfds.testing.mock_data(num_examples=6):
    source = celeba.TfdsCelebA(attrs, 32, split='test', data_dir=str(tmp_path))
    raw = tfds.data_source('celeb_a', split='test', data_dir=str(tmp_path), download=False,
                           decoders={'image': tfds.decode.SkipDecoding()})
    assert len(source) == 6
    for i in range(len(source)):
      example = source[i]
      chex.assert_shape(example['image'], (32, 32, 3))
      chex.assert_type(example['image'], np.uint8)
      expected = [float(raw[i]['attributes'][a]) for a in attrs]
      np.testing.assert_array_equal(example['label'], expected)
    full = Image.open(io.BytesIO(raw[2]['image']))
    assert full.size == (WIDTH, HEIGHT)
    np.testing.assert_array_equal(
        source[2]['image'], base.center_crop_resize(full.convert('RGB'), 1.0, 32))
  tf = sys.modules.get('tensorflow')
  if tf is not None:
    assert not tf.config.get_visible_devices('GPU')


def test_tfds_offline_error_is_fast_and_names_the_local_option(tmp_path):
  pytest.importorskip('tensorflow_datasets')
  start = time.perf_counter()
  with pytest.raises(base.DataConfigError) as e:
    celeba.TfdsCelebA(STARGAN_ATTRS, 64, data_dir=str(tmp_path), download=False)
  assert time.perf_counter() - start < 5.0
  message = str(e.value)
  assert f'tfds celeb_a is not available in {tmp_path}' in message
  assert 'will not download' in message
  assert '--config.data.name=celeba_folder --config.data.path=' in message
  assert 'img_align_celeba/' in message and 'list_attr_celeba.txt' in message


def test_tfds_download_without_network_fails_fast(tmp_path, monkeypatch):
  pytest.importorskip('tensorflow_datasets')
  monkeypatch.setattr(celeba, '_download_host_error',
                      lambda: 'drive.google.com:443 is unreachable: gaierror')
  start = time.perf_counter()
  with pytest.raises(base.DataConfigError, match='this machine cannot download it .*unreachable'):
    celeba.TfdsCelebA(STARGAN_ATTRS, 64, data_dir=str(tmp_path), download=True)
  assert time.perf_counter() - start < 5.0


def test_tfds_tfrecord_data_is_explained(tmp_path, monkeypatch):
  pytest.importorskip('tensorflow_datasets')
  monkeypatch.setattr(celeba, '_prepared_format', lambda tfds, data_dir: 'tfrecord')
  with pytest.raises(base.DataConfigError, match='as tfrecord.*--file_format=array_record'):
    celeba.TfdsCelebA(STARGAN_ATTRS, 64, data_dir=str(tmp_path))


def test_tfds_undecodable_bytes_raise_unreadable():
  with pytest.raises(base.UnreadableImageError, match=r'tfds celeb_a train\[3\]') as e:
    celeba._decode_image(truncated_jpeg(np.random.default_rng(0)), 'tfds celeb_a train[3]')
  assert e.value.where == 'tfds celeb_a train[3]'


def prepare_tfds_celeb_a(src: pathlib.Path, data_dir: pathlib.Path, num_rows: int) -> np.ndarray:
  """Runs tfds' own celeb_a builder as ArrayRecord on files written here (its Google Drive
  download replaced by local files): rows 0-5 train, 6-7 validation, the rest test."""
  # pylint: disable=g-import-not-at-top
  from unittest import mock
  import tensorflow_datasets as tfds
  from tensorflow_datasets.datasets.celeb_a import celeb_a_dataset_builder as builder_module
  # pylint: enable=g-import-not-at-top
  values = write_celeba(src, num_rows=num_rows)
  names = [filename(i) for i in range(num_rows)]
  files = {
      'list_eval_partition': ''.join(f'{n} {0 if i < 6 else 1 if i < 8 else 2}\n'
                                     for i, n in enumerate(names)),
      'landmarks_celeba': f'{num_rows}\n' + ' '.join(builder_module.LANDMARK_HEADINGS) + '\n' +
                          ''.join(f'{n}' + ' 1' * 10 + '\n' for n in names),
      'identity_celeba': ''.join(f'{n} {i}\n' for i, n in enumerate(names)),
  }
  for key, text in files.items():
    (src / f'{key}.txt').write_text(text)
  downloaded = {key: src / f'{key}.txt' for key in files}
  downloaded['list_attr_celeba'] = src / 'list_attr_celeba.txt'
  images = {n: str(src / 'img_align_celeba' / n) for n in names}

  def split_generators(self, dl_manager):
    del self, dl_manager
    return [tfds.core.SplitGenerator(name=name, gen_kwargs=dict(
        file_id=i, downloaded_dirs=downloaded, downloaded_images=images))
            for i, name in enumerate(('train', 'validation', 'test'))]

  with mock.patch.object(builder_module.Builder, '_split_generators', split_generators):
    builder = tfds.builder('celeb_a', data_dir=str(data_dir), file_format='array_record')
    builder.download_and_prepare()
  return values


def test_tfds_reads_celeb_a_prepared_by_its_real_builder(tmp_path):
  pytest.importorskip('importlib_resources')   # tfds 4.9.10 needs it to prepare any dataset
  pytest.importorskip('tensorflow_datasets')
  values = prepare_tfds_celeb_a(tmp_path / 'src', tmp_path / 'tfds', num_rows=12)
  attrs = ('Young', 'Male', 'Black_Hair')
  columns = [OFFICIAL_NAMES.index(a) for a in attrs]
  for split, rows in (('train', range(6)), ('validation', range(6, 8)), ('test', range(8, 12))):
    source = celeba.TfdsCelebA(attrs, 32, split=split, data_dir=str(tmp_path / 'tfds'))
    assert len(source) == len(rows)
    expected = {}   # full-crop image -> labels; tfds stores the JPEG bytes as they are
    for row in rows:
      image = Image.open(tmp_path / 'src' / 'img_align_celeba' / filename(row)).convert('RGB')
      expected[base.center_crop_resize(image, 1.0, 32).tobytes()] = values[row, columns] == 1
    for i in range(len(source)):
      example = source[i]
      np.testing.assert_array_equal(example['label'], expected.pop(example['image'].tobytes()))
