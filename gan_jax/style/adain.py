"""AdaIN arbitrary style transfer (Huang & Belongie 2017) as pure functions.

An encoder E (a gan_jax.style.feature_net.FeatureNet, frozen) maps images to features; AdaIN
gives the content features the style features' channel mean and std; a trained decoder D maps
them back to an image. At inference, several styles blend by interpolating their AdaIN targets
(weights summing to 1) and the strength alpha interpolates between the content's own features
(alpha 0: D(E(c)), a reconstruction) and the full AdaIN target (alpha 1).

Training (Eq. 11-13 of the paper): t = AdaIN(E(c), E(s)), g = D(t);
  L = L_c + lambda_style L_s,  L_c = ||E(g) - t||^2 (mean),
  L_s = sum_l ||mu(E_l(g)) - mu(E_l(s))||^2 + ||sigma(E_l(g)) - sigma(E_l(s))||^2.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp

from gan_jax.style import losses


def encoder_geometry(net, size: int = 64) -> tuple[int, int]:
  """(f, c): the AdaIN layer is f times smaller than the image (1, 2, 4 or 8) with c channels."""
  shape = jax.eval_shape(lambda p, x: net.features(p, x, (net.adain_layer,)), net.params,
                         jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32))
  return size // shape[net.adain_layer].shape[1], shape[net.adain_layer].shape[-1]


def encoder_layers(net) -> tuple[str, ...]:
  """Every layer the AdaIN losses read: the style layers and the AdaIN layer."""
  return tuple(dict.fromkeys(net.adain_style_layers + (net.adain_layer,)))


def blended_target(content_features: jax.Array, style_features: Sequence[jax.Array],
                   weights: jax.Array, alpha: float | jax.Array) -> jax.Array:
  """sum_k w_k AdaIN(f_c, f_s_k), interpolated with f_c by alpha.

  content_features [b, h, w, c]; style_features: K arrays [b, h_k, w_k, c]; weights [K] summing
  to 1; alpha in [0, 1]. Returns [b, h, w, c]."""
  target = sum(weights[k] * losses.adain(content_features, s)
               for k, s in enumerate(style_features))
  return alpha * target + (1.0 - alpha) * content_features


def training_losses(features_fn: Callable, encoder_params: Any, decode: Callable,
                    content: jax.Array, style: jax.Array, adain_layer: str,
                    style_layers: tuple[str, ...], style_weight: float
                    ) -> tuple[jax.Array, dict[str, jax.Array]]:
  """(loss, metrics) of a batch. content, style: [b, S, S, 3] in [-1, 1]; decode(t) -> images."""
  layers = tuple(dict.fromkeys(style_layers + (adain_layer,)))
  content_feats = features_fn(encoder_params, content, (adain_layer,))[adain_layer]
  style_feats = features_fn(encoder_params, style, layers)
  target = jax.lax.stop_gradient(losses.adain(content_feats, style_feats[adain_layer]))
  generated = decode(target)
  gen_feats = features_fn(encoder_params, generated, layers)
  loss_content = jnp.mean((gen_feats[adain_layer] - target) ** 2)
  loss_style = jnp.mean(losses.mean_std_loss({k: gen_feats[k] for k in style_layers},
                                             {k: style_feats[k] for k in style_layers}))
  loss = loss_content + style_weight * loss_style
  return loss, {'loss': loss, 'loss_content': loss_content, 'loss_style': loss_style}


def stylize(features_fn: Callable, encoder_params: Any, decode: Callable, adain_layer: str,
            content: jax.Array, styles: Sequence[jax.Array], weights: jax.Array,
            alpha: float | jax.Array) -> jax.Array:
  """D(blended AdaIN target). content [b, H, W, 3], styles K x [b, h_k, w_k, 3], in [-1, 1];
  H and W multiples of the encoder's down-sampling. Returns [b, H, W, 3] (not clipped)."""
  content_feats = features_fn(encoder_params, content, (adain_layer,))[adain_layer]
  style_feats = [features_fn(encoder_params, s, (adain_layer,))[adain_layer] for s in styles]
  return decode(blended_target(content_feats, style_feats, weights, alpha))


def style_statistics(features_fn: Callable, encoder_params: Any, adain_layer: str,
                     styles: Sequence[jax.Array], eps: float = 1e-5
                     ) -> tuple[jax.Array, jax.Array]:
  """Per style (K) the AdaIN layer's channel mean and std: ([K, c], [K, c]) of 1-image styles."""
  stats = [losses.channel_mean_std(features_fn(encoder_params, s, (adain_layer,))[adain_layer],
                                   eps) for s in styles]
  return jnp.concatenate([m for m, _ in stats]), jnp.concatenate([s for _, s in stats])


def target_from_statistics(content_features: jax.Array, content_mean: jax.Array,
                           content_std: jax.Array, style_means: jax.Array, style_stds: jax.Array,
                           weights: jax.Array, alpha: float | jax.Array) -> jax.Array:
  """blended_target with every statistic given: for tiled inference, where the content's mean
  and std [c] are those of the whole image, not of the tile. content_features [b, h, w, c];
  style_means/stds [K, c]; weights [K]."""
  normalised = (content_features - content_mean) / content_std
  target = sum(weights[k] * (normalised * style_stds[k] + style_means[k])
               for k in range(style_means.shape[0]))
  return alpha * target + (1.0 - alpha) * content_features
