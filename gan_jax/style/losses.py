"""Style-transfer losses as pure functions (Gatys et al. 2016; Huang & Belongie 2017).

Features are NHWC activations [b, h, w, c] of a feature network (gan_jax.style.feature_net).
Gram matrices are normalised by the number of positions, and the Gatys losses are relative
(divided by the target's squared norm), so one set of weights works for VGG19 and for the
random-filter fallback alike, at any image size.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

EPS = 1e-8


def gram_matrix(features: jax.Array, mask: jax.Array | None = None) -> jax.Array:
  """Gram matrix G[c, d] = sum_p m_p F[p, c] F[p, d] / sum_p m_p over positions p.

  features: [b, h, w, c]; mask: optional [b, h, w] (or [h, w]) weights in [0, 1], e.g. a region
  mask resized to the layer. Returns [b, c, c].
  """
  b, h, w, c = features.shape
  flat = features.reshape(b, h * w, c)
  if mask is None:
    return jnp.einsum('bpc,bpd->bcd', flat, flat) / (h * w)
  weights = jnp.broadcast_to(mask, (b, h, w)).reshape(b, h * w, 1).astype(features.dtype)
  total = jnp.maximum(weights.sum(axis=1), EPS)                      # [b, 1]
  return jnp.einsum('bpc,bpd->bcd', flat * weights, flat) / total[:, :, None]


def relative_squared_error(x: jax.Array, target: jax.Array) -> jax.Array:
  """||x - target||^2 / ||target||^2 per leading index: [b, ...] -> [b]."""
  axes = tuple(range(1, x.ndim))
  return jnp.sum((x - target) ** 2, axis=axes) / (jnp.sum(target ** 2, axis=axes) + EPS)


def content_loss(features: dict[str, jax.Array], targets: dict[str, jax.Array],
                 layer_weights: dict[str, float]) -> jax.Array:
  """sum_l w_l ||F_l - T_l||^2 / ||T_l||^2, features/targets [b, h, w, c] -> [b]."""
  return sum(weight * relative_squared_error(features[name], targets[name])
             for name, weight in layer_weights.items())


def style_loss(grams: dict[str, jax.Array], target_grams: dict[str, jax.Array],
               layer_weights: dict[str, float]) -> jax.Array:
  """sum_l w_l ||G_l - T_l||^2_F / ||T_l||^2_F, grams/targets [b, c, c] -> [b]."""
  return sum(weight * relative_squared_error(grams[name], target_grams[name])
             for name, weight in layer_weights.items())


def total_variation(images: jax.Array) -> jax.Array:
  """Mean squared difference of vertical and horizontal neighbours: [b, h, w, 3] -> [b]."""
  dy = images[:, 1:] - images[:, :-1]
  dx = images[:, :, 1:] - images[:, :, :-1]
  return jnp.mean(dy ** 2, axis=(1, 2, 3)) + jnp.mean(dx ** 2, axis=(1, 2, 3))


def channel_mean_std(features: jax.Array, eps: float = 1e-5) -> tuple[jax.Array, jax.Array]:
  """Per image and channel mean and std over positions: [b, h, w, c] -> ([b, c], [b, c])."""
  mean = jnp.mean(features, axis=(1, 2))
  std = jnp.sqrt(jnp.var(features, axis=(1, 2)) + eps)
  return mean, std


def adain(content: jax.Array, style: jax.Array, eps: float = 1e-5) -> jax.Array:
  """Adaptive instance normalisation: content features re-normalised to the style's channel
  mean/std. content [b, h, w, c], style [b, h', w', c] -> [b, h, w, c]."""
  c_mean, c_std = channel_mean_std(content, eps)
  s_mean, s_std = channel_mean_std(style, eps)
  normalised = (content - c_mean[:, None, None]) / c_std[:, None, None]
  return normalised * s_std[:, None, None] + s_mean[:, None, None]


def mean_std_loss(features: dict[str, jax.Array], targets: dict[str, jax.Array]) -> jax.Array:
  """AdaIN's style loss: sum_l ||mu(F_l) - mu(T_l)||^2 + ||sigma(F_l) - sigma(T_l)||^2, with
  means over channels (as the paper's MSE). Returns [b]."""
  total = 0.0
  for name in features:
    f_mean, f_std = channel_mean_std(features[name])
    t_mean, t_std = channel_mean_std(targets[name])
    total = total + jnp.mean((f_mean - t_mean) ** 2, axis=-1) + jnp.mean((f_std - t_std) ** 2,
                                                                          axis=-1)
  return total
