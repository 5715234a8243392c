"""AdaIN stylisation of images of any size on overlapping tiles (bounded device memory).

AdaIN normalises the content's features with their mean and std over the WHOLE image, so tiles
cannot each use their own. Two tiled passes (gan_jax.tiling.apply_tiled):
  1. the encoder on tiles -> the content feature map [H/f, W/f, c] on the host (f = the encoder's
     down-sampling), from which the whole-image channel mean and std are taken;
  2. the AdaIN target (host, elementwise) decoded on tiles of the feature map -> [H, W, 3].
Both networks are local (convolutions, no normalisation), so with margins at least their
receptive-field radii the result equals the untiled one away from seams (tests/test_tiling.py
style checks in tests/trainers/test_adain.py).
"""

from __future__ import annotations

import fractions
import functools

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import tiling
from gan_jax.style import adain as adain_lib
from gan_jax.style import losses


@functools.lru_cache(maxsize=8)
def _encoder_fn(net):
  return jax.jit(lambda params, x: net.features(params, x, (net.adain_layer,))[net.adain_layer])


@functools.lru_cache(maxsize=8)
def _decoder_fn(decoder):
  return jax.jit(decoder.apply)


def stylize_tiled(net, decoder, state, content: np.ndarray, styles: list[np.ndarray],
                  weights: jax.Array, alpha: float, tile: int = 512, overlap: int = 64,
                  margin: int = 64) -> np.ndarray:
  """content [H, W, 3] in [-1, 1] (H, W multiples of the encoder's down-sampling f; tile,
  overlap and margin too) and styles [h_k, w_k, 3] -> stylised [H, W, 3] (not clipped)."""
  factor, _ = adain_lib.encoder_geometry(net)
  tiling.check_tile_settings(tile, overlap, margin, factor, 'config.stylize.')
  encode = functools.partial(_encoder_fn(net), state.encoder_params)
  features = tiling.apply_tiled(encode, content[None], tile, overlap, margin,
                                scale=fractions.Fraction(1, factor), multiple=factor)
  c_mean, c_std = losses.channel_mean_std(jnp.asarray(features))
  style_means, style_stds = adain_lib.style_statistics(
      net.features, state.encoder_params, net.adain_layer, [jnp.asarray(s)[None] for s in styles])
  target = np.asarray(adain_lib.target_from_statistics(
      jnp.asarray(features), c_mean[0], c_std[0], style_means, style_stds, weights, alpha))
  decode = functools.partial(_decoder_fn(decoder), state.decoder_params)
  out = tiling.apply_tiled(decode, target, tile // factor, overlap // factor,
                           margin // factor, scale=factor)
  return out[0]
