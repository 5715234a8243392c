"""Colour preservation for style transfer (Gatys, Bethge, Hertzmann & Shechtman 2016,
"Preserving Color in Neural Artistic Style Transfer").

Two ways, both on float RGB images [h, w, 3] in [-1, 1] (numpy, host side):
  luminance  transfer the style on luminance only: the style's luminance is matched to the
             content's mean/std, stylisation runs on grey images, and the result's luminance is
             recombined with the content's chroma (YIQ I and Q channels), so the output's chroma
             equals the content's exactly (up to clipping to the RGB cube).
  histogram  recolour each style image to the content's colour distribution before the
             transfer (matching mean and covariance of RGB with the symmetric matrix square root,
             the paper's "colour histogram matching").
"""

from __future__ import annotations

import numpy as np

COLOR_MODES = ('none', 'luminance', 'histogram')

# NTSC YIQ; rows give Y, I, Q from RGB.
RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114],
                       [0.595716, -0.274453, -0.321263],
                       [0.211456, -0.522591, 0.311135]], np.float64)
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ)


def rgb_to_yiq(image: np.ndarray) -> np.ndarray:
  """[..., 3] RGB in [-1, 1] -> YIQ of the [0, 1] image (Y in [0, 1], I and Q roughly ±0.6)."""
  rgb = (np.asarray(image, np.float64) + 1.0) / 2.0
  return rgb @ RGB_TO_YIQ.T


def yiq_to_rgb(yiq: np.ndarray) -> np.ndarray:
  """Inverse of rgb_to_yiq: [..., 3] YIQ -> RGB in [-1, 1] (not clipped)."""
  return (np.asarray(yiq, np.float64) @ YIQ_TO_RGB.T) * 2.0 - 1.0


def luminance_image(image: np.ndarray) -> np.ndarray:
  """The luminance as a grey RGB image: [h, w, 3] in [-1, 1] -> [h, w, 3] with R = G = B."""
  y = rgb_to_yiq(image)[..., :1]
  return np.repeat(y * 2.0 - 1.0, 3, axis=-1).astype(np.float32)


def match_luminance(style: np.ndarray, content: np.ndarray) -> np.ndarray:
  """The style's luminance as a grey image, shifted/scaled to the content's luminance mean and
  std (the paper's luminance matching). [h, w, 3] in [-1, 1] -> grey [h, w, 3]."""
  ys, yc = rgb_to_yiq(style)[..., 0], rgb_to_yiq(content)[..., 0]
  matched = (ys - ys.mean()) * (yc.std() / max(ys.std(), 1e-8)) + yc.mean()
  grey = np.clip(matched, 0.0, 1.0) * 2.0 - 1.0
  return np.repeat(grey[..., None], 3, axis=-1).astype(np.float32)


def combine_luminance(luminance: np.ndarray, content: np.ndarray) -> np.ndarray:
  """Y of `luminance` (any RGB image; its own chroma is ignored) + I, Q of `content`.

  Returns RGB [h, w, 3] in [-1, 1], clipped to the RGB cube."""
  yiq = rgb_to_yiq(content)
  yiq[..., 0] = rgb_to_yiq(luminance)[..., 0]
  return np.clip(yiq_to_rgb(yiq), -1.0, 1.0).astype(np.float32)


def _symmetric_sqrt(matrix: np.ndarray, inverse: bool = False) -> np.ndarray:
  values, vectors = np.linalg.eigh(matrix)
  values = np.maximum(values, 1e-10)
  power = -0.5 if inverse else 0.5
  return (vectors * values ** power) @ vectors.T


def match_color_histogram(source: np.ndarray, reference: np.ndarray) -> np.ndarray:
  """Recolours `source` so that its RGB mean and covariance equal the reference's.

  x' = A (x - mu_s) + mu_r with A = C_r^(1/2) C_s^(-1/2) (symmetric square roots). Inputs
  [h, w, 3] in [-1, 1] (sizes may differ); returns [h_s, w_s, 3] clipped to [-1, 1]."""
  src = np.asarray(source, np.float64).reshape(-1, 3)
  ref = np.asarray(reference, np.float64).reshape(-1, 3)
  mu_s, mu_r = src.mean(0), ref.mean(0)
  cov_s = np.cov(src, rowvar=False) + 1e-5 * np.eye(3)
  cov_r = np.cov(ref, rowvar=False) + 1e-5 * np.eye(3)
  transform = _symmetric_sqrt(cov_r) @ _symmetric_sqrt(cov_s, inverse=True)
  out = (src - mu_s) @ transform.T + mu_r
  return np.clip(out.reshape(np.shape(source)), -1.0, 1.0).astype(np.float32)
