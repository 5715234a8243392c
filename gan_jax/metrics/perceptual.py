"""A perceptual distance from feature stacks, and output diversity.

`normalized_feature_distance` is the LPIPS formula (Zhang et al. 2018) *without* its learned
per-channel weights: every layer's activations are unit-normalised over channels at each position,
the squared differences are averaged over positions and summed over channels, and the layers are
averaged with equal weights. Standard LPIPS needs weights trained on human judgements that we do
not ship, so this is reported as "feature distance (uncalibrated, LPIPS-style)", never as LPIPS.

A feature stack is a list of maps [B, H_l, W_l, C_l] (e.g. a classifier's blocks:
trainers.classifier.feature_stack).
"""

from __future__ import annotations

from typing import Callable, Sequence

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

MODE_COLLAPSE_THRESHOLD = 0.01   # mean pairwise distance below this: outputs barely differ


def _unit_normalize(x: jax.Array, eps: float = 1e-10) -> jax.Array:
  return x / jnp.sqrt(jnp.sum(x * x, axis=-1, keepdims=True) + eps)


def normalized_feature_distance(maps_a: Sequence[jax.Array], maps_b: Sequence[jax.Array]
                                ) -> jax.Array:
  """Distance per image [B] between two feature stacks of the same images' shapes; >= 0, 0 for
  identical stacks, invariant to a positive per-position scaling of the activations."""
  if len(maps_a) != len(maps_b) or not maps_a:
    raise ValueError(f'feature stacks differ in length or are empty: {len(maps_a)} vs '
                     f'{len(maps_b)}')
  per_layer = [jnp.sum(jnp.mean(jnp.square(_unit_normalize(a) - _unit_normalize(b)),
                                axis=(1, 2)), axis=-1)
               for a, b in zip(maps_a, maps_b)]
  return jnp.mean(jnp.stack(per_layer), axis=0)


def diversity(outputs: np.ndarray, feature_stack: Callable[[np.ndarray], list],
              warn_below: float = MODE_COLLAPSE_THRESHOLD) -> tuple[float, np.ndarray]:
  """Mean pairwise feature distance among K outputs made for each of B inputs.

  outputs [K, B, H, W, 3] in [-1, 1] (K >= 2 samples per input) -> (mean over inputs,
  per-input mean [B]). Logs a mode-collapse warning when the mean is below `warn_below`.
  """
  outputs = np.asarray(outputs)
  if outputs.ndim != 5 or outputs.shape[0] < 2:
    raise ValueError(f'diversity needs outputs [K >= 2, B, H, W, 3], got {outputs.shape}')
  stacks = [feature_stack(o) for o in outputs]
  pairs = [(i, j) for i in range(len(stacks)) for j in range(i + 1, len(stacks))]
  per_input = np.mean([np.asarray(normalized_feature_distance(stacks[i], stacks[j]))
                       for i, j in pairs], axis=0)
  mean = float(per_input.mean())
  if mean < warn_below:
    logging.warning('Outputs for the same input are nearly identical (mean pairwise feature '
                    'distance %.4g < %.4g): the generator may ignore its noise/style input '
                    '(mode collapse).', mean, warn_below)
  return mean, per_input
