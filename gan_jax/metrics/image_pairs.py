"""Full-reference image-pair metrics: PSNR, SSIM and MS-SSIM.

Images are float arrays in [-1, 1], either one image [H, W, C] or a batch [B, H, W, C] (both
arguments the same shape). The `*_per_image` functions are pure jnp (jit- and shard-friendly) and
return [B]; `psnr`, `ssim` and `ms_ssim` return the batch mean as a Python float.

SSIM follows Wang et al. (2004) as scikit-image computes it with `gaussian_weights=True,
sigma=1.5, use_sample_covariance=False, data_range=2, channel_axis=-1`: an 11x11 Gaussian window
(truncated at 3.5 sigma), K1 = 0.01, K2 = 0.03, the SSIM map averaged over the positions where the
window lies inside the image, then over channels.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

DATA_RANGE = 2.0                       # images in [-1, 1]
SSIM_SIGMA = 1.5
SSIM_RADIUS = int(3.5 * SSIM_SIGMA + 0.5)   # scipy.ndimage's truncation: 5 -> an 11x11 window
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)   # Wang, Simoncelli & Bovik 2003


def _as_batch(img1, img2) -> tuple[jax.Array, jax.Array]:
  a, b = jnp.asarray(img1, jnp.float32), jnp.asarray(img2, jnp.float32)
  if a.shape != b.shape:
    raise ValueError(f'images differ in shape: {a.shape} vs {b.shape}')
  if a.ndim == 3:
    a, b = a[None], b[None]
  if a.ndim != 4:
    raise ValueError(f'expected images [H, W, C] or [B, H, W, C], got shape {a.shape}')
  return a, b


def psnr_per_image(img1: jax.Array, img2: jax.Array) -> jax.Array:
  """PSNR in dB per image [B] for images [B, H, W, C] in [-1, 1]; inf for identical images."""
  mse = jnp.mean(jnp.square(img1 - img2), axis=(1, 2, 3))
  return 10.0 * jnp.log10(DATA_RANGE ** 2 / mse)


def psnr(img1, img2) -> float:
  """Mean PSNR (dB) of image pairs in [-1, 1]."""
  return float(jnp.mean(psnr_per_image(*_as_batch(img1, img2))))


def _gaussian_taps() -> jax.Array:
  x = np.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=np.float64)
  taps = np.exp(-0.5 * (x / SSIM_SIGMA) ** 2)
  return jnp.asarray(taps / taps.sum(), jnp.float32)


def _filter_valid(x: jax.Array) -> jax.Array:
  """Separable Gaussian window over H and W of [B, H, W, C], 'valid' positions only."""
  taps = _gaussian_taps()
  k = taps.shape[0]
  h, w = x.shape[1] - k + 1, x.shape[2] - k + 1
  x = sum(taps[i] * x[:, i:i + h] for i in range(k))
  return sum(taps[j] * x[:, :, j:j + w] for j in range(k))


def _ssim_and_cs_maps(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
  """SSIM map and contrast-structure map [B, H-10, W-10, C]."""
  c1, c2 = (0.01 * DATA_RANGE) ** 2, (0.03 * DATA_RANGE) ** 2
  mu_a, mu_b = _filter_valid(a), _filter_valid(b)
  var_a = _filter_valid(a * a) - mu_a * mu_a
  var_b = _filter_valid(b * b) - mu_b * mu_b
  cov = _filter_valid(a * b) - mu_a * mu_b
  cs = (2.0 * cov + c2) / (var_a + var_b + c2)
  luminance = (2.0 * mu_a * mu_b + c1) / (mu_a * mu_a + mu_b * mu_b + c1)
  return luminance * cs, cs


def _check_window_fits(shape, scales: int = 1) -> None:
  need = (2 * SSIM_RADIUS + 1) * 2 ** (scales - 1)
  if min(shape[1], shape[2]) < need:
    raise ValueError(f'images of {shape[1]}x{shape[2]} px are too small for '
                     f'{"SSIM" if scales == 1 else f"MS-SSIM with {scales} scales"}: need at '
                     f'least {need} px per side' + ('' if scales == 1 else
                                                    '; pass fewer `weights` (scales)'))


def ssim_per_image(img1: jax.Array, img2: jax.Array) -> jax.Array:
  """SSIM per image [B] of images [B, H, W, C] in [-1, 1] (H, W >= 11)."""
  _check_window_fits(img1.shape)
  ssim_map, _ = _ssim_and_cs_maps(img1, img2)
  return jnp.mean(ssim_map, axis=(1, 2, 3))


def ssim(img1, img2) -> float:
  """Mean SSIM of image pairs in [-1, 1] (matches scikit-image's Wang et al. settings)."""
  return float(jnp.mean(ssim_per_image(*_as_batch(img1, img2))))


def _downsample(x: jax.Array) -> jax.Array:
  """2x2 average pooling; an odd last row/column is dropped."""
  b, h, w, c = x.shape
  x = x[:, :h - h % 2, :w - w % 2]
  return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def ms_ssim_per_image(img1: jax.Array, img2: jax.Array,
                      weights: tuple[float, ...] = MS_SSIM_WEIGHTS) -> jax.Array:
  """Multi-scale SSIM per image [B] (Wang et al. 2003): prod_j cs_j^w_j * ssim_M^w_M over
  len(weights) dyadic scales, with negative cs/ssim clipped to 0 (as TensorFlow's
  ssim_multiscale). Needs H, W >= 11 * 2^(scales-1), i.e. 176 px for the standard 5 scales."""
  _check_window_fits(img1.shape, len(weights))
  a, b = img1, img2
  factors = []
  for scale, weight in enumerate(weights):
    ssim_map, cs_map = _ssim_and_cs_maps(a, b)
    last = scale == len(weights) - 1
    value = jnp.mean(ssim_map if last else cs_map, axis=(1, 2, 3))
    factors.append(jnp.maximum(value, 0.0) ** weight)
    if not last:
      a, b = _downsample(a), _downsample(b)
  return jnp.prod(jnp.stack(factors), axis=0)


def ms_ssim(img1, img2, weights: tuple[float, ...] = MS_SSIM_WEIGHTS) -> float:
  """Mean MS-SSIM of image pairs in [-1, 1]."""
  return float(jnp.mean(ms_ssim_per_image(*_as_batch(img1, img2), weights=weights)))
