"""PSNR, SSIM and MS-SSIM against scikit-image and closed forms, on real images."""

import os

import jax
import numpy as np
from PIL import Image
import pytest
from skimage import metrics as skmetrics

from gan_jax import metrics
from gan_jax.metrics import image_pairs

SHARED = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'data')
CELEBA = os.path.join(SHARED, 'celeba_178x218', 'images')
HORSES = os.path.join(SHARED, 'horse2zebra', 'testA')


def _real_images(folder, count, size=None):
  if not os.path.isdir(folder):
    pytest.skip(f'{folder} not present (../shared/data is on the development machines)')
  names = sorted(os.listdir(folder))[:count]
  images = []
  for name in names:
    image = Image.open(os.path.join(folder, name)).convert('RGB')
    if size:
      image = image.resize(size, Image.BICUBIC)
    images.append(np.asarray(image, np.float32) / 127.5 - 1.0)
  return np.stack(images)


def _skimage_ssim(a, b):
  return skmetrics.structural_similarity(a.astype(np.float64), b.astype(np.float64),
                                         data_range=2.0, channel_axis=-1, gaussian_weights=True,
                                         sigma=1.5, use_sample_covariance=False)


def test_ssim_matches_scikit_image_on_real_faces():
  faces = _real_images(CELEBA, 6)                       # 218 x 178
  rng = np.random.default_rng(0)
  noisy = np.clip(faces + rng.normal(0, 0.1, faces.shape), -1, 1).astype(np.float32)
  pairs = [(faces[0], faces[1]), (faces[2], faces[3]), (faces[4], noisy[4]),
           (faces[5], faces[5][:, ::-1])]
  for a, b in pairs:
    assert metrics.ssim(a, b) == pytest.approx(_skimage_ssim(a, b), abs=1e-4)
  batch = metrics.ssim(faces[:4], noisy[:4])
  assert batch == pytest.approx(np.mean([_skimage_ssim(faces[i], noisy[i]) for i in range(4)]),
                                abs=1e-4)


def _synthetic_faces(count, size=64):
  from gan_jax.data import synthetic_faces   # always available: no ../shared/data needed
  source = synthetic_faces.SyntheticFaces(size, ('Male',), count, seed=3)
  return np.stack([source[i]['image'] for i in range(count)]).astype(np.float32) / 127.5 - 1.0


def test_ssim_matches_scikit_image_on_rendered_faces():
  faces = _synthetic_faces(4)
  rng = np.random.default_rng(4)
  blurred = (faces + np.roll(faces, 1, axis=1) + np.roll(faces, 1, axis=2)) / 3
  noisy = np.clip(faces + rng.normal(0, 0.2, faces.shape), -1, 1).astype(np.float32)
  for a, b in [(faces[0], faces[1]), (faces[2], blurred[2]), (faces[3], noisy[3])]:
    assert metrics.ssim(a, b) == pytest.approx(_skimage_ssim(a, b), abs=1e-4)


def test_ssim_matches_scikit_image_on_small_photos():
  photos = _real_images(HORSES, 4, size=(64, 48))
  for a, b in [(photos[0], photos[1]), (photos[2], photos[3])]:
    assert metrics.ssim(a, b) == pytest.approx(_skimage_ssim(a, b), abs=1e-4)


def test_psnr_closed_form_and_scikit_image():
  a = np.zeros((8, 8, 3), np.float32)
  b = np.full((8, 8, 3), 0.2, np.float32)
  # MSE 0.04 over a data range of 2: 10 log10(4 / 0.04) = 20 dB.
  assert metrics.psnr(a, b) == pytest.approx(20.0, abs=1e-5)
  assert metrics.psnr(a, a) == np.inf
  faces = _real_images(CELEBA, 2)
  reference = skmetrics.peak_signal_noise_ratio(faces[0], faces[1], data_range=2.0)
  assert metrics.psnr(faces[0], faces[1]) == pytest.approx(reference, abs=1e-4)


def test_ssim_identity_and_errors():
  rng = np.random.default_rng(1)
  x = rng.uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
  assert metrics.ssim(x, x) == pytest.approx(1.0, abs=1e-6)
  with pytest.raises(ValueError, match='too small'):
    metrics.ssim(x[:, :8, :8], x[:, :8, :8])
  with pytest.raises(ValueError, match='differ in shape'):
    metrics.ssim(x, x[:1])


def test_ms_ssim_properties():
  faces = _real_images(CELEBA, 2, size=(192, 192))
  assert metrics.ms_ssim(faces[0], faces[0]) == pytest.approx(1.0, abs=1e-5)
  rng = np.random.default_rng(2)
  light = np.clip(faces[0] + rng.normal(0, 0.05, faces[0].shape), -1, 1)
  heavy = np.clip(faces[0] + rng.normal(0, 0.3, faces[0].shape), -1, 1)
  assert 1.0 > metrics.ms_ssim(faces[0], light) > metrics.ms_ssim(faces[0], heavy) > 0.0
  # One scale with weight 1 is plain SSIM (negative values aside).
  assert metrics.ms_ssim(faces[0], light, weights=(1.0,)) == pytest.approx(
      metrics.ssim(faces[0], light), abs=1e-6)
  with pytest.raises(ValueError, match='fewer'):
    metrics.ms_ssim(faces[0][:100, :100], faces[1][:100, :100])


def test_per_image_metrics_are_the_same_under_jit_on_8_devices():
  faces = _synthetic_faces(8)
  rng = np.random.default_rng(3)
  noisy = np.clip(faces + rng.normal(0, 0.1, faces.shape), -1, 1).astype(np.float32)
  eager = np.asarray(image_pairs.ssim_per_image(faces, noisy))
  mesh = jax.make_mesh((jax.device_count(),), ('data',))
  spec = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('data'))
  sharded = jax.jit(image_pairs.ssim_per_image)(jax.device_put(faces, spec),
                                                jax.device_put(noisy, spec))
  np.testing.assert_allclose(np.asarray(sharded), eager, atol=1e-6)
  psnr = jax.jit(image_pairs.psnr_per_image)(jax.device_put(faces, spec),
                                             jax.device_put(noisy, spec))
  np.testing.assert_allclose(np.asarray(psnr),
                             np.asarray(image_pairs.psnr_per_image(faces, noisy)), rtol=1e-6)
