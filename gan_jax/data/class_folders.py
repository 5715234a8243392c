"""Image classification sets in the class-folder layout (CIFAR-10 as ../shared/data/cifar10).

    <path>/<split>/<class>/<image>          a folder per split, or
    <path>/<split>.zip holding <split>/<class>/<image>

Labels are one-hot over the classes (`attrs`: the class folder names in the order wanted; empty
= every class folder, sorted). Images are centre-cropped to a square and resized to image_size.
"""

from __future__ import annotations

import io
import os
import threading
import zipfile
from typing import Sequence

import numpy as np
from PIL import Image

from gan_jax.data import base

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.gif', '.ppm')


class ClassFolders:
  """ImageSource over class folders (or a zip of them): {'image': uint8, 'label': one-hot}."""

  def __init__(self, path: str, split: str, image_size: int, attrs: Sequence[str] = ()):
    self.path, self.split, self.image_size = path, split, int(image_size)
    folder, archive = os.path.join(path, split), os.path.join(path, f'{split}.zip')
    if os.path.isdir(folder):
      self._zip_path = None
      entries = sorted(os.path.join(root, name)[len(folder) + 1:]
                       for root, _, names in os.walk(folder) for name in names)
    elif os.path.isfile(archive):
      self._zip_path = archive
      with zipfile.ZipFile(archive) as z:
        prefix = f'{split}/'
        entries = sorted(n[len(prefix):] for n in z.namelist()
                         if n.startswith(prefix) and not n.endswith('/'))
    else:
      raise base.DataConfigError(
          f'no {split!r} split under {path!r}: expected a folder {folder} or an archive {archive} '
          'with one sub-folder per class. Set config.data.path.')
    entries = [e.replace(os.sep, '/') for e in entries]
    entries = [e for e in entries if '/' in e and e.lower().endswith(IMAGE_EXTENSIONS)]
    classes = sorted({e.split('/')[0] for e in entries})
    if not classes:
      raise base.DataConfigError(f'{folder if self._zip_path is None else archive} holds no '
                                 'class folders with images')
    wanted = tuple(attrs) or tuple(classes)
    base.check_attr_names(list(wanted), classes, f'class_folders:{path}')
    self.attr_names = wanted
    index = {name: i for i, name in enumerate(wanted)}
    self._items = [(e, index[e.split('/')[0]]) for e in entries if e.split('/')[0] in index]
    self._local = threading.local()

  def __len__(self) -> int:
    return len(self._items)

  def _read_bytes(self, entry: str) -> bytes:
    if self._zip_path is None:
      with open(os.path.join(self.path, self.split, entry), 'rb') as f:
        return f.read()
    archive = getattr(self._local, 'archive', None)
    if archive is None:                          # one handle per thread: ZipFile is not shared
      archive = self._local.archive = zipfile.ZipFile(self._zip_path)
    return archive.read(f'{self.split}/{entry}')

  def __getitem__(self, index: int) -> dict[str, np.ndarray]:
    entry, label = self._items[index]
    where = f'{self._zip_path or os.path.join(self.path, self.split)}:{entry}'
    try:
      with Image.open(io.BytesIO(self._read_bytes(entry))) as image:
        image.load()
        rgb = base.to_rgb(image, where)
    except base.UnreadableImageError:
      raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
      raise base.UnreadableImageError(where, f'{type(e).__name__}: {e}') from None
    one_hot = np.zeros(len(self.attr_names), np.float32)
    one_hot[label] = 1.0
    return {'image': base.center_crop_resize(rgb, 1.0, self.image_size), 'label': one_hot}
