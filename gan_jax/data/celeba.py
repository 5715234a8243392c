"""CelebA as an ImageSource: a local folder in the official layout, or tfds `celeb_a`.

    source[i] -> {'image': uint8 [image_size, image_size, 3], 'label': float32 [A] in {0, 1}}

Labels are the columns `attrs` of CelebA's 40 binary attributes, in the order the config lists them.
Images are cropped as in StarGAN (yunjey/stargan: CenterCrop(178) then Resize(image_size) on the
178x218 aligned faces). `crop` is given in pixels of that full-size image and scales with the
resolution of the copy on disk: a centred square of side crop / 178 * width.

  CelebAFolder  <path>/img_align_celeba/*.jpg + list_attr_celeba.txt, split as StarGAN splits it
  TfdsCelebA    tfds `celeb_a` read by index from ArrayRecord files, with the official partition

Importing this module does not import TensorFlow; TfdsCelebA imports tfds when it is built.
"""

from __future__ import annotations

import dataclasses
import glob
import io
import os
import random
import socket
import sys
from typing import Sequence

from absl import logging
import numpy as np

from gan_jax.data import base

# Config 'crop' is in pixels of the full-size 178x218 aligned CelebA.
CELEBA_REFERENCE_WIDTH = 178

# The 40 attributes, in the column order of list_attr_celeba.txt (and of tfds celeb_a).
CELEBA_ATTR_NAMES = (
    '5_o_Clock_Shadow', 'Arched_Eyebrows', 'Attractive', 'Bags_Under_Eyes', 'Bald', 'Bangs',
    'Big_Lips', 'Big_Nose', 'Black_Hair', 'Blond_Hair', 'Blurry', 'Brown_Hair', 'Bushy_Eyebrows',
    'Chubby', 'Double_Chin', 'Eyeglasses', 'Goatee', 'Gray_Hair', 'Heavy_Makeup',
    'High_Cheekbones', 'Male', 'Mouth_Slightly_Open', 'Mustache', 'Narrow_Eyes', 'No_Beard',
    'Oval_Face', 'Pale_Skin', 'Pointy_Nose', 'Receding_Hairline', 'Rosy_Cheeks', 'Sideburns',
    'Smiling', 'Straight_Hair', 'Wavy_Hair', 'Wearing_Earrings', 'Wearing_Hat',
    'Wearing_Lipstick', 'Wearing_Necklace', 'Wearing_Necktie', 'Young')

STARGAN_SPLIT_SEED = 1234   # yunjey/stargan data_loader.py: random.seed(1234); shuffle(lines)

# Image folders tried in order: Kaggle's nested copy, official zip, official PNG set, shared/data.
_IMAGE_DIRS = (os.path.join('img_align_celeba', 'img_align_celeba'), 'img_align_celeba',
               'img_align_celeba_png', 'images')
_ATTR_FILES = ('list_attr_celeba.txt', os.path.join('Anno', 'list_attr_celeba.txt'))
_ATTR_FILE_GLOB = 'list_attr_celeba*.txt'
_ATTR_VALUES = frozenset(('1', '-1'))
_FOLDER_SPLITS = ('train', 'test')
_MAX_NAMES_IN_WARNING = 5

LOCAL_OPTION = ('To use a local copy of CelebA instead: --config.data.name=celeba_folder '
                '--config.data.path=/path/to/celeba (a folder with img_align_celeba/ and '
                'list_attr_celeba.txt, e.g. ../shared/data/celeba_89x109).')


# ---------------------------------------------------------------------------------------------
# Shared checks and transforms
# ---------------------------------------------------------------------------------------------

def crop_fraction(crop: float) -> float:
  """crop (pixels of the 178-wide reference image, in (0, 178]) -> fraction of the image width."""
  if not 0 < crop <= CELEBA_REFERENCE_WIDTH:
    raise base.DataConfigError(
        f'config.data.crop={crop} must be in (0, {CELEBA_REFERENCE_WIDTH}]: it is the side of the '
        f'centred square crop in pixels of the full-size {CELEBA_REFERENCE_WIDTH}x218 CelebA '
        f'(StarGAN uses 178).')
  return crop / CELEBA_REFERENCE_WIDTH


def _check_image_size(image_size: int) -> int:
  if int(image_size) != image_size or image_size < 1:
    raise base.DataConfigError(f'config.data.image_size must be a positive integer, got '
                               f'{image_size!r}')
  return int(image_size)


def _crop_and_resize(image, fraction: float, image_size: int) -> np.ndarray:
  """PIL RGB image -> uint8 [image_size, image_size, 3], StarGAN's CenterCrop + Resize."""
  return base.center_crop_resize(image, crop_fraction=fraction, size=image_size)


# ---------------------------------------------------------------------------------------------
# CelebAFolder: the official layout on disk
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class AttrTable:
  """list_attr_celeba.txt: `names` [K] columns, `filenames` [N] rows in file order, `values`
  bool [N, K] (True where the file says 1, False where it says -1)."""
  names: tuple[str, ...]
  filenames: tuple[str, ...]
  values: np.ndarray


def find_image_dir(path: str, image_dir: str | None = None) -> str:
  """The folder of face images: `image_dir` (relative to path) if given, else the first of
  img_align_celeba/ (or its nested or PNG variants) and images/ that exists."""
  if image_dir:
    folder = os.path.join(path, image_dir)
    if not os.path.isdir(folder):
      raise base.DataConfigError(f'config.data.image_dir {folder!r} is not a folder. Point it at '
                                 f'the folder of CelebA images (e.g. img_align_celeba/).')
    return folder
  for name in _IMAGE_DIRS:
    folder = os.path.join(path, name)
    if os.path.isdir(folder):
      return folder
  raise base.DataConfigError(
      f'No CelebA image folder in {path!r}: expected one of {", ".join(_IMAGE_DIRS)}. Unzip '
      f'img_align_celeba.zip there, or set config.data.image_dir to the folder of images.')


def find_attr_file(path: str, attr_file: str | None = None) -> str:
  """The attribute file: `attr_file` (relative to path) if given, else list_attr_celeba.txt or
  Anno/list_attr_celeba.txt, else the single list_attr_celeba*.txt in path."""
  if attr_file:
    file = os.path.join(path, attr_file)
    if not os.path.isfile(file):
      raise base.DataConfigError(f'config.data.attr_file {file!r} does not exist. Point it at '
                                 f'CelebA\'s list_attr_celeba.txt.')
    return file
  for name in _ATTR_FILES:
    file = os.path.join(path, name)
    if os.path.isfile(file):
      return file
  matches = sorted(glob.glob(os.path.join(glob.escape(path), _ATTR_FILE_GLOB)))
  if len(matches) == 1:
    return matches[0]
  if len(matches) > 1:
    raise base.DataConfigError(
        f'Several attribute files in {path!r}: {[os.path.basename(m) for m in matches]}. Choose '
        f'one with config.data.attr_file.')
  raise base.DataConfigError(
      f'No CelebA attribute file in {path!r}: expected {" or ".join(_ATTR_FILES)} (from the '
      f'CelebA Anno/ folder), or set config.data.attr_file.')


def _bad_row(attr_path: str, lineno: int, line: str, names: Sequence[str],
             tokens: Sequence[str]) -> base.DataConfigError:
  """The error for a malformed data row, naming the line and what is wrong with it."""
  values = tokens[1:]
  if len(values) != len(names):
    problem = f'{len(values)} values instead of {len(names)}'
  else:
    column = next(i for i, v in enumerate(values) if v not in _ATTR_VALUES)
    problem = f'{values[column]!r} for {names[column]}'
  return base.DataConfigError(
      f'{attr_path} line {lineno} is malformed: {problem}. Each row must be a file name and '
      f'{len(names)} values of 1 or -1 (one per name on line 2); got {line[:100]!r}.')


def _parse_header(attr_path: str, lines: list[tuple[int, str]]) -> tuple[int, tuple[str, ...]]:
  """(count on line 1, attribute names on line 2) of list_attr_celeba.txt."""
  if len(lines) < 2:
    raise base.DataConfigError(f'{attr_path} is too short: expected a count line, a line of '
                               f'attribute names and one row per image.')
  (count_lineno, count_line), (names_lineno, names_line) = lines[:2]
  try:
    count = int(count_line)
  except ValueError:
    raise base.DataConfigError(
        f'{attr_path} line {count_lineno} is malformed: expected the number of images, got '
        f'{count_line[:100]!r}.') from None
  names = tuple(names_line.split())
  if len(set(names)) != len(names):
    raise base.DataConfigError(f'{attr_path} line {names_lineno} repeats attribute names: '
                               f'{names_line[:200]!r}.')
  return count, names


def _first_duplicate(filenames: Sequence[str]) -> int:
  seen = set()
  for i, name in enumerate(filenames):
    if name in seen:
      return i
    seen.add(name)
  return -1


def _parse_rows(attr_path: str, rows: list[tuple[int, str]],
                names: Sequence[str]) -> tuple[list[str], np.ndarray]:
  """(file names [N], values bool [N, K]) of the data rows [(line number, text)]."""
  filenames, value_tokens = [], []
  for lineno, line in rows:
    tokens = line.split()
    if len(tokens) != len(names) + 1:
      raise _bad_row(attr_path, lineno, line, names, tokens)
    filenames.append(tokens[0])
    value_tokens.append(tokens[1:])
  if not filenames:
    raise base.DataConfigError(f'{attr_path} has no image rows after its two header lines.')
  text = np.array(value_tokens)
  is_one = text == '1'
  bad_rows = ~(is_one | (text == '-1')).all(axis=1)
  if bad_rows.any():
    lineno, line = rows[int(np.argmax(bad_rows))]
    raise _bad_row(attr_path, lineno, line, names, line.split())
  duplicate = _first_duplicate(filenames) if len(set(filenames)) != len(filenames) else -1
  if duplicate >= 0:
    raise base.DataConfigError(f'{attr_path} line {rows[duplicate][0]}: '
                               f'{filenames[duplicate]} appears twice.')
  return filenames, is_one


def read_attr_file(attr_path: str) -> AttrTable:
  """Parses list_attr_celeba.txt: line 1 the image count, line 2 the names, then one row per
  image, `000001.jpg -1  1 ...`. Blank lines and extra whitespace are ignored; anything else
  malformed raises DataConfigError naming the line."""
  try:
    with open(attr_path, encoding='utf-8') as f:
      text = f.read()
  except (OSError, UnicodeDecodeError) as e:
    raise base.DataConfigError(f'Cannot read the attribute file {attr_path!r}: {e}') from None
  lines = [(i, line.strip()) for i, line in enumerate(text.splitlines(), start=1) if line.strip()]
  count, names = _parse_header(attr_path, lines)
  filenames, values = _parse_rows(attr_path, lines[2:], names)
  if count != len(filenames):
    logging.warning('%s: line 1 says %d images but the file has %d rows; using the rows.',
                    attr_path, count, len(filenames))
  return AttrTable(names=names, filenames=tuple(filenames), values=values)


def stargan_split(num_rows: int, test_size: int, split: str) -> list[int]:
  """Row indices (file order) of `split`, in StarGAN's order.

  StarGAN shuffles the attribute rows with random.seed(1234) and holds out the first ones as
  'test'. Shuffling indices permutes exactly as shuffling the rows themselves. Note that
  yunjey/stargan tests `(i + 1) < 2000`, so its test set is the first 1999 shuffled rows:
  test_size=1999 reproduces it exactly; test_size=2000 adds the 2000th row to 'test'.
  """
  if split not in _FOLDER_SPLITS:
    raise base.DataConfigError(f'split must be one of {_FOLDER_SPLITS}, got {split!r}')
  if not 0 <= test_size < num_rows:
    raise base.DataConfigError(
        f'config.data.test_size={test_size} must be in [0, {num_rows}): the attribute file has '
        f'{num_rows} rows and the training split needs at least one.')
  order = list(range(num_rows))
  random.Random(STARGAN_SPLIT_SEED).shuffle(order)
  return order[:test_size] if split == 'test' else order[test_size:]


def _match_image_files(filenames: Sequence[str], image_dir: str) -> list[str | None]:
  """For each attribute-file name, the file in image_dir holding it (same name, or same stem
  with another extension, e.g. the official PNG set), or None. One directory listing."""
  listing = set(os.listdir(image_dir))
  by_stem = None
  matched = []
  for name in filenames:
    if name in listing:
      matched.append(name)
      continue
    if by_stem is None:
      by_stem = {os.path.splitext(f)[0]: f for f in sorted(listing)}
    matched.append(by_stem.get(os.path.splitext(name)[0]))
  return matched


def _warn_missing(missing: Sequence[str], total: int, split: str, image_dir: str) -> None:
  shown = ', '.join(missing[:_MAX_NAMES_IN_WARNING])
  more = ', ...' if len(missing) > _MAX_NAMES_IN_WARNING else ''
  logging.warning('CelebAFolder: %d of the %d %r rows have no image in %s and are skipped: %s%s',
                  len(missing), total, split, image_dir, shown, more)


class CelebAFolder:
  """Local CelebA (img_align_celeba/ + list_attr_celeba.txt) as an ImageSource.

  source[i] -> {'image': uint8 [image_size, image_size, 3], 'label': float32 [len(attrs)] in
  {0, 1}}, in StarGAN's split order (see `stargan_split`). Every configuration error is raised
  here; rows without an image file are dropped (one warning). A file that cannot be decoded
  raises base.UnreadableImageError from __getitem__. Read-only after construction, so several
  threads may call __getitem__ at once.
  """

  def __init__(self, path: str, attrs: Sequence[str], image_size: int, crop: int = 178,
               split: str = 'train', test_size: int = 2000, image_dir: str | None = None,
               attr_file: str | None = None):
    self.attr_names = tuple(attrs)
    self.image_size = _check_image_size(image_size)
    self._crop_fraction = crop_fraction(crop)
    if split not in _FOLDER_SPLITS:
      raise base.DataConfigError(f'split must be one of {_FOLDER_SPLITS}, got {split!r}')
    if not os.path.isdir(path):
      raise base.DataConfigError(
          f'CelebA folder {path!r} does not exist. Set --config.data.path to a folder with '
          f'img_align_celeba/ and list_attr_celeba.txt (e.g. ../shared/data/celeba_89x109).')
    self.image_dir = find_image_dir(path, image_dir)
    self.attr_file = find_attr_file(path, attr_file)
    table = read_attr_file(self.attr_file)
    base.check_attr_names(self.attr_names, table.names, 'celeba_folder')
    rows = stargan_split(len(table.filenames), test_size, split)
    if not rows:
      raise base.DataConfigError(f'The {split!r} split is empty: config.data.test_size is '
                                 f'{test_size}.')
    self._files, rows = self._present_files(table, rows, split)
    columns = [table.names.index(a) for a in self.attr_names]
    self._labels = table.values[np.ix_(rows, columns)].astype(np.float32)
    logging.info('CelebAFolder: %d %s images from %s, attributes %s', len(self), split,
                 self.image_dir, ', '.join(self.attr_names))

  def _present_files(self, table: AttrTable, rows: Sequence[int],
                     split: str) -> tuple[list[str], list[int]]:
    """(image file names, row indices) of the rows whose image exists; warns about the rest."""
    matched = _match_image_files([table.filenames[r] for r in rows], self.image_dir)
    missing = [table.filenames[r] for r, f in zip(rows, matched) if f is None]
    if len(missing) == len(rows):
      raise base.DataConfigError(
          f'None of the {len(rows)} {split!r} rows of {self.attr_file} has an image in '
          f'{self.image_dir} (first expected: {table.filenames[rows[0]]}). '
          f'Check config.data.path / config.data.image_dir.')
    if missing:
      _warn_missing(missing, len(rows), split, self.image_dir)
    present = [(f, r) for r, f in zip(rows, matched) if f is not None]
    return [f for f, _ in present], [r for _, r in present]

  def __len__(self) -> int:
    return len(self._files)

  def path_of(self, index: int) -> str:
    """The image file of example `index`."""
    return os.path.join(self.image_dir, self._files[index])

  def __getitem__(self, index: int) -> dict[str, np.ndarray]:
    image = base.load_rgb(self.path_of(index))
    return {'image': _crop_and_resize(image, self._crop_fraction, self.image_size),
            'label': self._labels[index].copy()}

  def __repr__(self) -> str:
    return (f'CelebAFolder({self.image_dir!r}, {len(self)} images, attrs={self.attr_names}, '
            f'image_size={self.image_size})')


# ---------------------------------------------------------------------------------------------
# TfdsCelebA: tensorflow-datasets celeb_a
# ---------------------------------------------------------------------------------------------

# tfds celeb_a downloads its files from Google Drive (see its builder's URLs).
_DOWNLOAD_HOST = ('drive.google.com', 443)
_CONNECT_TIMEOUT_S = 5.0
_PROXY_VARIABLES = ('HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy')
_TFDS_SPLITS = {'train': 'train', 'test': 'test', 'validation': 'validation',
                'valid': 'validation', 'val': 'validation'}


def hide_gpus_from_tensorflow() -> None:
  """If TensorFlow is imported, hides every GPU from it, so that it never takes accelerator
  memory from JAX. A no-op when TF is not imported (tfds reads ArrayRecord without it)."""
  tf = sys.modules.get('tensorflow')
  if tf is None or not hasattr(tf, 'config'):
    return
  try:
    tf.config.set_visible_devices([], 'GPU')
  except RuntimeError as e:   # TF already initialised its devices
    logging.warning('Could not hide GPUs from TensorFlow: %s', e)


def _import_tfds():
  """Imports tensorflow_datasets (lazily: importing this module must not import TF)."""
  import tensorflow_datasets as tfds   # pylint: disable=g-import-not-at-top
  hide_gpus_from_tensorflow()
  return tfds


def _tfds_split(split: str) -> str:
  if split not in _TFDS_SPLITS:
    raise base.DataConfigError(f'split must be one of {sorted(_TFDS_SPLITS)} for tfds celeb_a, '
                               f'got {split!r}')
  return _TFDS_SPLITS[split]


def _describe_data_dir(tfds, data_dir: str | None) -> str:
  return data_dir or f'{tfds.core.constants.DATA_DIR} (the TFDS default data dir)'


def _data_source(tfds, split: str, data_dir: str | None, download: bool):
  """tfds.data_source for celeb_a with images left encoded (we decode and crop them with PIL)."""
  return tfds.data_source(
      'celeb_a', split=split, data_dir=data_dir, download=download, try_gcs=False,
      decoders={'image': tfds.decode.SkipDecoding()},
      # Preparing must write ArrayRecord: TFRecord has no random access.
      builder_kwargs={'file_format': 'array_record'} if download else None)


def _prepared_format(tfds, data_dir: str | None) -> str | None:
  """The file format celeb_a is prepared in under data_dir, or None if it is not prepared."""
  try:
    builder = tfds.builder('celeb_a', data_dir=data_dir, try_gcs=False)
    if not builder.is_prepared():
      return None
  except Exception:   # pylint: disable=broad-except  (only used to word an error message)
    return None
  file_format = builder.info.file_format
  return file_format.value if file_format is not None else 'unknown'


def _download_host_error() -> str | None:
  """Why this machine cannot reach celeb_a's download host, or None if it can (or uses a proxy).
  Without this check an offline download retries for minutes before failing."""
  if any(os.environ.get(v) for v in _PROXY_VARIABLES):
    return None
  host, port = _DOWNLOAD_HOST
  try:
    with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S):
      return None
  except OSError as e:
    return f'{host}:{port} is unreachable: {type(e).__name__}: {e}'


def _unavailable(where: str, why: str) -> base.DataConfigError:
  return base.DataConfigError(f'tfds celeb_a is not available in {where}: {why}. {LOCAL_OPTION}')


def _explain_unreadable(where: str, prepared: str, error: Exception) -> base.DataConfigError:
  """The error for a celeb_a that is prepared but cannot be opened by index."""
  if prepared not in ('array_record', 'parquet'):
    return base.DataConfigError(
        f'tfds celeb_a in {where} is prepared as {prepared}, which has no random access. '
        f'Prepare it again as ArrayRecord: `tfds build celeb_a --data_dir=DIR '
        f'--file_format=array_record` into another data dir (or delete celeb_a/ there and use '
        f'--config.data.download=True). {LOCAL_OPTION}')
  return base.DataConfigError(f'tfds celeb_a in {where} could not be opened: '
                              f'{type(error).__name__}: {error}. {LOCAL_OPTION}')


def _download_celeb_a(tfds, split: str, data_dir: str | None, where: str):
  """Downloads and prepares celeb_a as ArrayRecord, failing fast when there is no network."""
  unreachable = _download_host_error()
  if unreachable:
    raise _unavailable(where, f'it is not prepared there and this machine cannot download it '
                              f'({unreachable})')
  logging.info('Downloading and preparing tfds celeb_a (1.4 GB of images) into %s', where)
  try:
    return _data_source(tfds, split, data_dir, download=True)
  except Exception as e:   # pylint: disable=broad-except  (any failure: explain and chain it)
    hint = (f' (pip install {e.name})' if isinstance(e, ModuleNotFoundError) else
            ' (Google Drive often refuses this download, see tensorflow/datasets#1482)')
    raise _unavailable(where, f'it is not prepared there and downloading it on this machine '
                              f'failed: {type(e).__name__}: {e}{hint}') from e


def open_celeb_a(split: str, data_dir: str | None, download: bool):
  """tfds `celeb_a` split as a random-access sequence of examples (encoded 'image' bytes,
  'attributes' dict of 40 bools); raises DataConfigError, quickly, when it is not available."""
  tfds = _import_tfds()
  try:
    return _data_source(tfds, split, data_dir, download=False)
  except Exception as e:   # pylint: disable=broad-except  (diagnosed below)
    read_error = e
  finally:
    hide_gpus_from_tensorflow()
  where = _describe_data_dir(tfds, data_dir)
  prepared = _prepared_format(tfds, data_dir)
  if prepared is not None:
    raise _explain_unreadable(where, prepared, read_error) from read_error
  if not download:
    raise _unavailable(where, 'it is not prepared there and download=False '
                              '(--config.data.download), so this machine will not download '
                              'it') from read_error
  try:
    return _download_celeb_a(tfds, split, data_dir, where)
  finally:
    hide_gpus_from_tensorflow()


def _decode_image(data: bytes, where: str):
  """Encoded image bytes -> PIL RGB image; raises base.UnreadableImageError naming `where`."""
  try:
    return base.load_rgb(io.BytesIO(data))   # PIL opens file objects as well as paths
  except base.UnreadableImageError as e:
    raise base.UnreadableImageError(where, e.reason) from None


class TfdsCelebA:
  """tensorflow-datasets `celeb_a` as an ImageSource, read by index (ArrayRecord).

  source[i] -> {'image': uint8 [image_size, image_size, 3], 'label': float32 [len(attrs)] in
  {0, 1}}. Splits are CelebA's official partition (train 162,770 / validation 19,867 / test
  19,962), not StarGAN's random split. With download=True a missing dataset is downloaded and
  prepared as ArrayRecord; otherwise (or offline) DataConfigError says what to do instead.
  """

  def __init__(self, attrs: Sequence[str], image_size: int, crop: int = 178,
               split: str = 'train', data_dir: str | None = None, download: bool = False):
    self.attr_names = tuple(attrs)
    base.check_attr_names(self.attr_names, CELEBA_ATTR_NAMES, 'celeb_a')
    self.image_size = _check_image_size(image_size)
    self._crop_fraction = crop_fraction(crop)
    self.split = _tfds_split(split)
    self._source = open_celeb_a(self.split, data_dir, download)
    logging.info('TfdsCelebA: %d %s images, attributes %s', len(self), self.split,
                 ', '.join(self.attr_names))

  def __len__(self) -> int:
    return len(self._source)

  def __getitem__(self, index: int) -> dict[str, np.ndarray]:
    index = int(index)
    if not -len(self) <= index < len(self):
      raise IndexError(f'index {index} out of range for {len(self)} examples')
    index %= len(self)
    example = self._source[index]
    image = _decode_image(example['image'], f'tfds celeb_a {self.split}[{index}]')
    attributes = example['attributes']
    return {'image': _crop_and_resize(image, self._crop_fraction, self.image_size),
            'label': np.array([attributes[a] for a in self.attr_names], np.float32)}

  def __repr__(self) -> str:
    return (f'TfdsCelebA({self.split}, {len(self)} images, attrs={self.attr_names}, '
            f'image_size={self.image_size})')
