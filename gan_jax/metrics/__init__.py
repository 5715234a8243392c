"""Metrics: pure functions over predictions, features and images.

The public API other code and outside checks call directly:

  frechet_distance(mu1, sigma1, mu2, sigma2) -> float
  kernel_inception_distance(feats1, feats2, num_subsets=..., subset_size=...) -> (mean, std)
  precision_recall(real_feats, fake_feats, k=3) -> (precision, recall)
  density_coverage(real_feats, fake_feats, k=5) -> (density, coverage)
  inception_score(probs, num_splits=10) -> (mean, std)
  ssim(img1, img2) -> float, ms_ssim(img1, img2) -> float, psnr(img1, img2) -> float
      (images in [-1, 1], [H, W, C] or [B, H, W, C])
  normalized_feature_distance(stack_a, stack_b) -> [B]   (uncalibrated LPIPS-style, no weights)
  diversity(outputs [K, B, H, W, 3], feature_stack) -> (mean, per_input)
"""

from gan_jax.metrics.distributions import FeatureStats
from gan_jax.metrics.distributions import density_coverage
from gan_jax.metrics.distributions import feature_statistics
from gan_jax.metrics.distributions import fid_from_features
from gan_jax.metrics.distributions import frechet_distance
from gan_jax.metrics.distributions import inception_score
from gan_jax.metrics.distributions import kernel_inception_distance
from gan_jax.metrics.distributions import precision_recall
from gan_jax.metrics.image_pairs import ms_ssim
from gan_jax.metrics.perceptual import diversity
from gan_jax.metrics.perceptual import normalized_feature_distance
from gan_jax.metrics.image_pairs import psnr
from gan_jax.metrics.image_pairs import ssim

__all__ = ['FeatureStats', 'density_coverage', 'feature_statistics', 'fid_from_features',
           'diversity', 'frechet_distance', 'inception_score', 'kernel_inception_distance', 'ms_ssim',
           'normalized_feature_distance',
           'precision_recall', 'psnr', 'ssim']
