"""Latent edits: move a latent along named directions with strengths, per layer range, inside a
mask, and style mixing; plus the classifier-judged edit metrics.

Latents are w [B, W] or w+ [B, L, W]. A direction that applies to a layer range turns a w latent
into w+ (the same w in every layer, changed only in the range). Strengths are in units of the
direction's `scale` (its spread over samples: "+2" = two standard deviations) unless
`in_scale_units=False`.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.editing import directions as directions_lib
from gan_jax.editing import inversion


def parse_edit_spec(spec: str) -> list[tuple[str, float]]:
  """'Smiling:+2,Male:-1' -> [('Smiling', 2.0), ('Male', -1.0)]; ValueError saying the format."""
  edits = []
  for part in (p.strip() for p in spec.split(',')):
    if not part:
      continue
    name, sep, value = part.rpartition(':')
    try:
      edits.append((name.strip(), float(value)))
    except ValueError:
      sep = ''
    if not sep or not name.strip():
      raise ValueError(f'--edit part {part!r}: write NAME:STRENGTH, e.g. Smiling:+2,Male:-1')
  if not edits:
    raise ValueError('--edit is empty: write NAME:STRENGTH pairs, e.g. Smiling:+2')
  return edits


def layer_mask(direction: directions_lib.Direction, num_ws: int) -> np.ndarray:
  """[num_ws] 1.0 on the direction's w+ layers, 0.0 elsewhere; ValueError for a bad range."""
  if direction.layers is None:
    return np.ones(num_ws, np.float32)
  start, stop = direction.layers
  if not 0 <= start < stop <= num_ws:
    raise ValueError(f'direction {direction.name!r} applies to layers {direction.layers}, '
                     f'outside the generator\'s 0..{num_ws}')
  mask = np.zeros(num_ws, np.float32)
  mask[start:stop] = 1.0
  return mask


def resolution_layer_ranges(num_ws: int) -> list[tuple[int, int]]:
  """Every [start, stop) of w+ layers made of whole resolutions, short of all of them.

  A StyleGAN2 synthesis network reads two w+ entries per resolution (the first resolution's conv
  and toRGB, then each block's two convs; the last toRGB shares the final pair's), so resolution
  k owns layers 2k and 2k + 1; an odd num_ws gives the last one a range of its own. Example:
  num_ws=6 -> (0,2) (0,4) (2,4) (2,6) (4,6).
  """
  if num_ws < 1:
    raise ValueError(f'num_ws={num_ws} must be >= 1')
  cuts = list(range(0, num_ws + 1, 2))
  if cuts[-1] != num_ws:
    cuts.append(num_ws)
  return [(a, b) for i, a in enumerate(cuts) for b in cuts[i + 1:] if (a, b) != (0, num_ws)]


def apply_directions(latent: jax.Array, directions: Sequence[directions_lib.Direction],
                     strengths, num_ws: int | None = None,
                     in_scale_units: bool = True) -> jax.Array:
  """latent + sum_k strength_k * scale_k * direction_k (on each direction's layers).

  latent: [B, W] or [B, L, W]; strengths: [K] (same for every row) or [B, K]. When any
  direction has a layer range, a [B, W] latent is broadcast to [B, num_ws, W] first.
  """
  latent = jnp.asarray(latent)
  s = jnp.asarray(strengths, jnp.float32)
  if s.ndim == 1:
    s = jnp.broadcast_to(s, (latent.shape[0], len(directions)))
  if s.shape != (latent.shape[0], len(directions)):
    raise ValueError(f'strengths {s.shape} for {len(directions)} directions and a batch of '
                     f'{latent.shape[0]}')
  if not directions:
    return latent
  vectors = jnp.stack([jnp.asarray(d.vector) * (d.scale if in_scale_units else 1.0)
                       for d in directions])                                        # [K, W]
  if latent.ndim == 2 and all(d.layers is None for d in directions):
    return latent + s @ vectors
  if latent.ndim == 2:
    if num_ws is None:
      raise ValueError('a direction with a layer range needs num_ws to broadcast w to w+')
    latent = jnp.broadcast_to(latent[:, None], (latent.shape[0], num_ws, latent.shape[-1]))
  masks = jnp.stack([jnp.asarray(layer_mask(d, latent.shape[1])) for d in directions])  # [K, L]
  return latent + jnp.einsum('bk,kl,kw->blw', s, masks, vectors)


def style_mix(ws_a: jax.Array, ws_b: jax.Array, layers: tuple[int, int]) -> jax.Array:
  """w+ [B, L, W] of ws_a with layers [start, stop) taken from ws_b (coarse layers = pose and
  shape, middle = features, fine = colour, as in StyleGAN)."""
  start, stop = layers
  if not 0 <= start < stop <= ws_a.shape[1]:
    raise ValueError(f'layer range {layers} outside 0..{ws_a.shape[1]}')
  index = jnp.arange(ws_a.shape[1])[None, :, None]
  return jnp.where((index >= start) & (index < stop), ws_b, ws_a)


def masked_edit(generator, variables, ws_orig: jax.Array, ws_edit: jax.Array, mask: jax.Array,
                noise=None, from_resolution: int = 4) -> jax.Array:
  """A local edit blended in feature space (models.stylegan.Generator.synthesize_masked):
  images [B, S, S, 3] that show ws_edit's change inside mask [B, S, S, 1] (1 = edit) and are
  ws_orig's image where the mask is 0 (up to float rounding: the blend renders both halves in
  one 2B-row batch, which XLA may sum in another order than a B-row render)."""
  return generator.apply(variables, ws_edit, ws_orig, mask, noise, from_resolution,
                         method=generator.synthesize_masked)


def masked_edit_by_optimization(render: Callable, ws_orig: jax.Array, ws_edit: jax.Array,
                                mask: jax.Array, noise=None,
                                settings: inversion.InversionSettings = inversion.InversionSettings(
                                    steps=300, learning_rate=0.05)):
  """A local edit found in latent space: w+ that renders ws_edit's image inside the mask and
  ws_orig's outside (pixel MSE to that composite, started from ws_edit). Returns (w+, images);
  unlike `masked_edit` the outside is only approximately kept, but the result is one latent that
  can be edited further. Call it outside jit (it runs `inversion.invert`'s loop of steps)."""
  target = mask * render(ws_edit, noise) + (1 - mask) * render(ws_orig, noise)
  ws, _, _ = inversion.invert(render, ws_edit, target, None, settings, noise)
  return ws, render(ws, noise)


def pixel_blend(original: jax.Array, edited: jax.Array, mask: jax.Array) -> jax.Array:
  """original + mask * (edited - original): any generator's edit confined to a mask."""
  return original + mask * (edited - original)


def edit_targets(judged_in: np.ndarray, attr_index: int, strength: float) -> np.ndarray:
  """The labels an edit asks for: the judge's reading of the input with the edited attribute
  set to 1 for a positive strength and 0 for a negative one."""
  target = np.array(judged_in, copy=True)
  target[:, attr_index] = 1.0 if strength > 0 else 0.0
  return target
