"""Colour preservation: YIQ round trip, chroma kept exactly, colour statistics matched."""

import numpy as np

from gan_jax.style import color


def _image(seed, low=-0.6, high=0.6, size=(12, 10)):
  return np.random.default_rng(seed).uniform(low, high, (*size, 3)).astype(np.float32)


def test_yiq_round_trip():
  image = _image(0, -1, 1)
  np.testing.assert_allclose(color.yiq_to_rgb(color.rgb_to_yiq(image)), image, atol=1e-6)
  grey = np.zeros((2, 2, 3), np.float32)
  np.testing.assert_allclose(color.rgb_to_yiq(grey)[..., 1:], 0.0, atol=1e-6)   # no chroma


def test_combine_luminance_keeps_the_content_chroma_and_takes_the_luminance():
  content, stylised = _image(1, -0.3, 0.3), _image(2, -0.4, 0.4)   # no clipping to the RGB cube
  out = color.combine_luminance(stylised, content)
  yiq_out, yiq_content = color.rgb_to_yiq(out), color.rgb_to_yiq(content)
  np.testing.assert_allclose(yiq_out[..., 1:], yiq_content[..., 1:], atol=1e-5)
  np.testing.assert_allclose(yiq_out[..., 0], color.rgb_to_yiq(stylised)[..., 0], atol=1e-5)


def test_match_luminance_matches_mean_and_std():
  style, content = _image(3, -0.9, 0.9, (20, 16)), _image(4, -0.3, 0.5)
  grey = color.match_luminance(style, content)
  assert np.all(grey[..., 0] == grey[..., 1])
  y_grey = (grey[..., 0] + 1) / 2
  y_content = color.rgb_to_yiq(content)[..., 0]
  np.testing.assert_allclose([y_grey.mean(), y_grey.std()], [y_content.mean(), y_content.std()],
                             atol=1e-4)


def test_histogram_matching_gives_the_reference_mean_and_covariance():
  rng = np.random.default_rng(5)
  source = (rng.normal(size=(30, 30, 3)) @ np.array([[.2, .05, 0], [0, .1, .02], [0, 0, .15]])
            ).astype(np.float32)
  reference = (rng.normal(size=(25, 20, 3)) @ np.array([[.1, 0, .03], [.04, .2, 0], [0, 0, .1]])
               + np.array([0.1, -0.2, 0.05])).astype(np.float32)
  out = color.match_color_histogram(source, reference).reshape(-1, 3)
  ref = reference.reshape(-1, 3)
  np.testing.assert_allclose(out.mean(0), ref.mean(0), atol=1e-4)
  np.testing.assert_allclose(np.cov(out, rowvar=False), np.cov(ref, rowvar=False), atol=2e-4)
