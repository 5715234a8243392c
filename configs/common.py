"""Settings shared by several configs: the tests' smoke-size loop and tiled translation."""

import ml_collections


def set_smoke_loop(c: ml_collections.ConfigDict, num_steps: int = 4,
                   num_sample_images: int = 8) -> None:
  """A few steps at batch 8 (divisible by the tests' 8 fake devices), a checkpoint every half of
  the run, samples at the end, two data threads."""
  c.update(batch_size=8, num_steps=num_steps, log_every=max(num_steps // 2, 1),
           sample_every=num_steps, ckpt_every=max(num_steps // 2, 1),
           num_sample_images=num_sample_images, data_threads=2)


def smoke_faces(num_test_examples: int = 32, image_size: int = 16) -> dict:
  """config.data fields of a tiny embedded-faces set (for `c.data.update(**...)`)."""
  return dict(name='synthetic_faces', image_size=image_size, num_examples=64,
              num_test_examples=num_test_examples)


def translate_block(tile_margin: int) -> ml_collections.ConfigDict:
  """config.translate of an image-to-image generator (--mode=translate; gan_jax.tiling):
  a tile_margin >= G's receptive-field radius makes tiles agree with the whole image."""
  return ml_collections.ConfigDict(dict(
      full_resolution=False,     # True: translate at the input's own size (not the trained one)
      tile=0,                    # > 0: run G on tiles of this many px (a multiple of 4), memory
                                 # bounded by the tile; 0 = the whole image at once
      tile_overlap=32,           # px over which neighbouring tiles are blended
      tile_margin=tile_margin,   # px of context around each tile
      norm_stats='exact',        # instance-norm statistics of tiled runs: exact (whole image,
                                 # 1 + one pass per norm layer) | downscaled (one pass on a copy
                                 # <= 512 px, approximate) | none (per tile)
  ))
