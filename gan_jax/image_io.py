"""Images at the edges: reading user files, writing PNGs and sample grids (uint8 only here)."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
from PIL import Image

from gan_jax.data import base
from gan_jax.errors import InputNotFoundError

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff', '.gif')


def list_images(path: str) -> list[str]:
  """A file, or the image files of a folder (sorted); FileNotFoundError with a hint otherwise."""
  if os.path.isfile(path):
    return [path]
  if os.path.isdir(path):
    files = sorted(os.path.join(path, f) for f in os.listdir(path)
                   if f.lower().endswith(IMAGE_EXTENSIONS))
    if not files:
      raise InputNotFoundError(f'no image files ({", ".join(IMAGE_EXTENSIONS)}) in folder {path!r}')
    return files
  raise InputNotFoundError(f'--input {path!r} is neither an image file nor a folder')


def load_for_model(path: str, crop_fraction: float, image_size: int) -> np.ndarray:
  """Any image file (size, mode) -> float32 [S, S, 3] in [-1, 1], cropped/resized as in training."""
  image = base.load_rgb(path)
  return base.uint8_to_float(base.center_crop_resize(image, crop_fraction, image_size))


def load_full_resolution(path: str) -> np.ndarray:
  """Any image file -> float32 [H, W, 3] in [-1, 1] at its own size (no crop, no resize)."""
  return base.uint8_to_float(np.asarray(base.load_rgb(path), np.uint8))


def save_image(path: str, image: np.ndarray) -> None:
  """Writes float [-1, 1] or uint8 [H, W, 3] as PNG (folders created)."""
  if image.dtype != np.uint8:
    image = base.float_to_uint8(image)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  Image.fromarray(image).save(path)


def make_grid(columns: Sequence[np.ndarray], pad: int = 2) -> np.ndarray:
  """Tiles C arrays of images [R, H, W, 3] (float in [-1, 1]) into one uint8 image of R rows x C
  columns with `pad` white pixels between tiles."""
  tiles = np.stack([base.float_to_uint8(c) for c in columns], axis=1)   # [R, C, H, W, 3]
  rows, cols, h, w, _ = tiles.shape
  grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
  for r in range(rows):
    for c in range(cols):
      top, left = pad + r * (h + pad), pad + c * (w + pad)
      grid[top:top + h, left:left + w] = tiles[r, c]
  return grid
