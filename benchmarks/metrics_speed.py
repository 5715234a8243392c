"""Speed of the evaluation metrics on this machine.

  python benchmarks/metrics_speed.py [--cifar=../shared/data/cifar10] [--classifier=WORKDIR]

1. Feature extraction images/s on the 10,000 CIFAR-10 test images (decoding and batching
   included): the classifier extractor (a trained workdir, or a freshly initialised
   configs/classifier.py:cifar10 network: speed does not depend on the weights), and the FID
   Inception-v3 (random weights in the real file format; 299x299 inputs) on --inception_images.
2. FID for 10k x 10k 2048-d features (streaming statistics + Fréchet distance), KID (100 subsets
   of 1000) and precision/recall (k=3) on the same sets, in seconds.
"""

import os
import tempfile
import time

from absl import app
from absl import flags
import jax
import numpy as np

from configs import classifier as classifier_config
from gan_jax import evaluation
from gan_jax import metrics
from gan_jax import torch_weights
from gan_jax.data import class_folders
from gan_jax.data import loader
from gan_jax.metrics import features
from gan_jax.models import inception
from gan_jax.trainers import classifier

_CIFAR = flags.DEFINE_string('cifar', '../shared/data/cifar10', 'CIFAR-10 class folders.')
_CLASSIFIER = flags.DEFINE_string('classifier', '', 'Trained classifier workdir (optional).')
_INCEPTION_IMAGES = flags.DEFINE_integer('inception_images', 512,
                                         'CIFAR-10 test images through Inception-v3.')
_BATCH = flags.DEFINE_integer('batch', 250, 'Batch size for feature extraction.')


def _random_classifier_extractor():
  config = classifier_config.get_config('cifar10')
  model = classifier.build_model(config)
  params = model.init(jax.random.key(0), np.zeros((1, 32, 32, 3), np.float32))
  apply = jax.jit(lambda x: dict(zip(('logits', 'features'), model.apply(params, x))))
  return features.Extractor('classifier(random init)', 'configs/classifier.py:cifar10 network',
                            32, int(model.widths[-1]), False, apply)


def _random_inception_extractor(folder):
  state = inception.random_torch_state()
  path = os.path.join(folder, 'random_inception.pth')
  torch_weights.save_state_dict(path, state)
  return evaluation.make_extractor('inception_v3', inception_weights=path)


def _time_extraction(extractor, source, limit, batch):
  # Warm-up (compile) on one batch, then time decoding + resizing + the network.
  warm = next(loader.ordered_batches(source, batch, batch))
  extractor(warm['image'])
  start = time.perf_counter()
  count = 0
  for b in loader.ordered_batches(source, batch, limit):
    extractor(b['image'])
    count += len(b['image'])
  elapsed = time.perf_counter() - start
  return count, elapsed


def main(argv):
  del argv
  print(f'JAX {jax.__version__} on {jax.device_count()} x {jax.default_backend()}, '
        f'{os.cpu_count()} CPU cores')
  test = class_folders.ClassFolders(_CIFAR.value, 'test', 32)
  extractor = (evaluation.make_extractor(f'classifier:{_CLASSIFIER.value}') if _CLASSIFIER.value
               else _random_classifier_extractor())
  count, elapsed = _time_extraction(extractor, test, len(test), _BATCH.value)
  print(f'classifier features ({extractor.feature_dim}-d, 32 px): {count} CIFAR-10 test images '
        f'in {elapsed:.1f} s = {count / elapsed:.0f} images/s')
  with tempfile.TemporaryDirectory() as folder:
    inception_extractor = _random_inception_extractor(folder)
    count, elapsed = _time_extraction(inception_extractor, test, _INCEPTION_IMAGES.value, 64)
  print(f'Inception-v3 features (2048-d, resized to 299 px): {count} images in {elapsed:.1f} s '
        f'= {count / elapsed:.1f} images/s (10k images: ~{10_000 / (count / elapsed) / 60:.0f} min)')

  rng = np.random.default_rng(0)
  real = rng.normal(size=(10_000, 2048)).astype(np.float32)
  fake = (rng.normal(size=(10_000, 2048)) * 1.1 + 0.05).astype(np.float32)
  start = time.perf_counter()
  stats = [metrics.FeatureStats(2048), metrics.FeatureStats(2048)]
  for s, x in zip(stats, (real, fake)):
    for chunk in evaluation.batched(x, 500):
      s.update(chunk)
  t_stats = time.perf_counter() - start
  start = time.perf_counter()
  fid = metrics.frechet_distance(stats[0].mean, stats[0].covariance, stats[1].mean,
                                 stats[1].covariance)
  t_fid = time.perf_counter() - start
  print(f'FID 10k x 10k 2048-d: streaming statistics {t_stats:.1f} s + Fréchet distance '
        f'{t_fid:.1f} s = {t_stats + t_fid:.1f} s (FID {fid:.3f})')
  start = time.perf_counter()
  kid = metrics.kernel_inception_distance(real, fake, num_subsets=100, subset_size=1000)
  print(f'KID 100 subsets of 1000: {time.perf_counter() - start:.1f} s (KID {kid[0]:.4f})')
  start = time.perf_counter()
  pr = metrics.precision_recall(real, fake, k=3)
  print(f'precision/recall k=3, 10k x 10k: {time.perf_counter() - start:.1f} s (P {pr[0]:.3f}, '
        f'R {pr[1]:.3f})')


if __name__ == '__main__':
  app.run(main)
