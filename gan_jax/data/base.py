"""The interface every image dataset implements, and the shared image transforms.

A *source* is a random-access, read-only collection of labelled images. It does no shuffling,
batching or augmentation (the loader does that, deterministically from the seed and the step).

    source[i] -> {'image': uint8 [image_size, image_size, 3], 'label': float32 [num_attrs] in {0, 1}}

Images come out already cropped and resized to the model's resolution. An example that cannot be
decoded raises `UnreadableImageError`; the loader skips it, counts it and warns.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, Sequence

import numpy as np
from PIL import Image

from gan_jax.errors import UserError

# Modes PIL converts to RGB without losing meaning; anything else (16-bit, float, ...) is "odd".
_CONVERTIBLE_MODES = frozenset({'RGB', 'RGBA', 'L', 'LA', 'P', 'PA', 'CMYK', 'YCbCr', '1'})


class DataConfigError(UserError, ValueError):
  """A dataset is misconfigured (missing folder or file, unknown attribute, bad split...)."""


class UnreadableImageError(Exception):
  """One example could not be decoded; carries the path (or id) for the warning."""

  def __init__(self, where: str, reason: str):
    super().__init__(f'{where}: {reason}')
    self.where = where
    self.reason = reason


class ImageSource(Protocol):
  """Random access to labelled images at the model's resolution."""

  attr_names: tuple[str, ...]   # the label columns, in the order the config asked for
  image_size: int

  def __len__(self) -> int:
    ...

  def __getitem__(self, index: int) -> dict[str, np.ndarray]:
    ...


@dataclasses.dataclass(frozen=True)
class ArraySource:
  """An in-memory source (tests, small datasets): images uint8 [N, S, S, 3], labels float32 [N, A]."""
  images: np.ndarray
  labels: np.ndarray
  attr_names: tuple[str, ...]

  def __post_init__(self):
    if self.images.ndim != 4 or self.images.shape[-1] != 3 or self.images.dtype != np.uint8:
      raise DataConfigError(f'images must be uint8 [N, S, S, 3], got {self.images.dtype} '
                            f'{self.images.shape}')
    if self.labels.shape != (len(self.images), len(self.attr_names)):
      raise DataConfigError(f'labels must be [{len(self.images)}, {len(self.attr_names)}], '
                            f'got {self.labels.shape}')

  @property
  def image_size(self) -> int:
    return int(self.images.shape[1])

  def __len__(self) -> int:
    return len(self.images)

  def __getitem__(self, index: int) -> dict[str, np.ndarray]:
    return {'image': self.images[index], 'label': self.labels[index].astype(np.float32)}


def check_attr_names(requested: Sequence[str], available: Sequence[str], dataset: str) -> None:
  """Raises DataConfigError naming every unknown attribute and the valid ones."""
  unknown = [a for a in requested if a not in available]
  if unknown:
    raise DataConfigError(
        f'Unknown attribute(s) {unknown} for dataset {dataset!r}. '
        f'Valid names: {", ".join(available)}. Fix config.data.attrs.')
  if len(set(requested)) != len(requested):
    raise DataConfigError(f'config.data.attrs has duplicates: {list(requested)}')
  if not requested:
    raise DataConfigError('config.data.attrs is empty: name at least one attribute.')


def to_rgb(image: Image.Image, where: str) -> Image.Image:
  """Converts any ordinary PIL mode to RGB; raises UnreadableImageError for odd modes."""
  if image.mode not in _CONVERTIBLE_MODES:
    raise UnreadableImageError(where, f'unsupported image mode {image.mode!r}')
  if image.mode in ('RGBA', 'LA', 'PA') or (image.mode == 'P' and 'transparency' in image.info):
    # Composite on white rather than letting PIL drop alpha onto black.
    rgba = image.convert('RGBA')
    background = Image.new('RGBA', rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert('RGB')
  return image.convert('RGB')


def load_rgb(path: str) -> Image.Image:
  """Opens and fully decodes an image file as RGB; raises UnreadableImageError if it cannot."""
  try:
    with Image.open(path) as image:
      image.load()
      return to_rgb(image, path)
  except UnreadableImageError:
    raise
  except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
    raise UnreadableImageError(path, f'{type(e).__name__}: {e}') from None


def center_crop_resize(image: Image.Image, crop_fraction: float, size: int) -> np.ndarray:
  """Crops a centred square of side crop_fraction * min(W, H), resizes to size x size.

  Returns uint8 [size, size, 3]. Resizing is antialiased (PIL bicubic, as torchvision's Resize).
  """
  if not 0.0 < crop_fraction <= 1.0:
    raise DataConfigError(f'crop fraction must be in (0, 1], got {crop_fraction}')
  w, h = image.size
  side = max(1, int(round(crop_fraction * min(w, h))))
  left, top = (w - side) // 2, (h - side) // 2
  image = image.crop((left, top, left + side, top + side))
  if image.size != (size, size):
    image = image.resize((size, size), Image.BICUBIC)
  return np.asarray(image, dtype=np.uint8)


def uint8_to_float(images: np.ndarray) -> np.ndarray:
  """uint8 [..., 3] in [0, 255] -> float32 in [-1, 1]."""
  return images.astype(np.float32) / 127.5 - 1.0


def float_to_uint8(images: np.ndarray) -> np.ndarray:
  """float in [-1, 1] (clipped) -> uint8 in [0, 255]."""
  images = np.clip((np.asarray(images, np.float32) + 1.0) * 127.5, 0.0, 255.0)
  return np.round(images).astype(np.uint8)
