"""GAN inversion by optimisation: find the latent whose image matches a target (G frozen).

The generator enters as a pure `render(latent, noise) -> images` function, so the same code
inverts StyleGAN in z, w or w+ (see `stylegan_renderer`) or a DCGAN in z. The loss is a masked
pixel MSE (mask = known pixels: inpainting and restoration use the same call), plus an optional
feature distance (`feature_fn`, e.g. a classifier's feature stack: a perceptual term) and, when
noise maps are optimised too, StyleGAN2's noise regulariser. `pivotal_tuning` then fine-tunes G
itself around the found latents (PTI: Roich et al. 2022), for reconstructions G's range alone
cannot reach.

Both run their Adam steps as a Python loop over one compiled step (`run_steps`), not as a
`lax.scan`: XLA:CPU runs convolutions inside a while loop several times slower (jax#12868). The
steps are pure (`inversion_step`, `tuning_step`), so a caller that inverts many batches jits a
step once and passes it in (gan_jax.trainers.gan_editing caches one per generator).

Shapes: target [B, S, S, 3] in [-1, 1]; mask [B, S, S, 1] in {0, 1} (1 = use this pixel) or None.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import optax

SPACES = ('z', 'w', 'w+')


@dataclasses.dataclass(frozen=True)
class InversionSettings:
  steps: int = 500
  learning_rate: float = 0.05
  feature_weight: float = 0.0      # weight of feature_fn's distance (0 = pixels only)
  optimize_noise: bool = False     # StyleGAN: optimise the per-layer noise maps as well
  noise_weight: float = 1e5        # StyleGAN2 projector's noise regularisation weight


def masked_mse(images: jax.Array, target: jax.Array, mask: jax.Array | None) -> jax.Array:
  """Mean squared error per image over the masked pixels (all pixels when mask is None): [B]."""
  sq = jnp.square(images - target)
  if mask is None:
    return jnp.mean(sq, axis=(1, 2, 3))
  weight = jnp.broadcast_to(mask, sq.shape)
  return jnp.sum(sq * weight, axis=(1, 2, 3)) / jnp.maximum(jnp.sum(weight, axis=(1, 2, 3)), 1.0)


def noise_regularization(noise: Sequence[jax.Array]) -> jax.Array:
  """StyleGAN2 projector: squared autocorrelations of each noise map at shifts of one pixel,
  summed over a pyramid down to 8x8 (keeps the optimised noise white)."""
  total = jnp.zeros(())
  for n in noise:
    while True:
      total += (jnp.square(jnp.mean(n * jnp.roll(n, 1, axis=1))) +
                jnp.square(jnp.mean(n * jnp.roll(n, 1, axis=2))))
      if n.shape[1] <= 8:
        break
      b, h, w, c = n.shape
      n = n.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))
  return total


def normalize_noise(noise: Sequence[jax.Array]) -> list[jax.Array]:
  """Each map to zero mean and unit variance (applied after every step, as in StyleGAN2)."""
  return [(n - jnp.mean(n)) * jax.lax.rsqrt(jnp.var(n) + 1e-8) for n in noise]


def projector_schedule(learning_rate: float, steps: int, rampdown: float = 0.25,
                       rampup: float = 0.05) -> optax.Schedule:
  """StyleGAN2 projector's learning rate: linear ramp-up over the first 5 % of the steps and a
  cosine ramp-down over the last 25 %."""
  def schedule(count):
    t = count / max(steps, 1)
    ramp = jnp.minimum(1.0, (1.0 - t) / rampdown)
    ramp = 0.5 - 0.5 * jnp.cos(ramp * jnp.pi)
    return learning_rate * ramp * jnp.minimum(1.0, t / rampup)
  return schedule


def run_steps(step: Callable, carry: Any, num_steps: int, *args) -> tuple[Any, dict]:
  """(carry, history) after num_steps calls of `carry, metrics = step(carry, *args)`; history
  holds each metric stacked over the steps, [num_steps] (empty arrays for 0 steps).

  A Python loop over the (jitted) step rather than `lax.scan`: XLA:CPU runs convolutions inside
  a while loop several times slower (jax#12868). benchmarks/step_loop_speed.py, 2 CPU cores, the
  64 px StyleGAN of configs/stylegan.py:synthetic64: 0.20 s vs 1.28 s per w+ inversion step
  (batch 16) and 0.17 s vs 8.0 s per pivotal-tuning step (batch 8). On GPU/TPU the loop costs
  one asynchronous dispatch per step. The metrics stay on the device until the caller reads them."""
  if num_steps == 0:
    shapes = jax.eval_shape(step, carry, *args)[1]
    return carry, jax.tree.map(lambda m: jnp.zeros((0, *m.shape), m.dtype), shapes)
  history = []
  for _ in range(num_steps):
    carry, metrics = step(carry, *args)
    history.append(metrics)
  return carry, jax.tree.map(lambda *values: jnp.stack(values), *history)


def inversion_step(render: Callable[[Any, jax.Array, Any], jax.Array],
                   settings: InversionSettings,
                   feature_fn: Callable[[jax.Array], Sequence[jax.Array]] | None = None):
  """The pure Adam step of `invert`, for jit:
  step((params, opt_state), variables, target, mask, init_noise, target_features)
      -> ((params, opt_state), {'loss', 'mse'} batch means)
  with params {'latent'[, 'noise']} (start: `inversion_start`), render(variables, latent, noise)
  -> images, and target_features = feature_fn(target) (None without the feature term)."""
  tx = _inversion_optimizer(settings)

  def loss_fn(p, variables, target, mask, init_noise, target_features):
    noise = p.get('noise', init_noise)
    images = render(variables, p['latent'], noise)
    mse = masked_mse(images, target, mask)
    loss = jnp.mean(mse)
    if target_features is not None:
      feats = feature_fn(images if mask is None else images * mask + target * (1 - mask))
      loss += settings.feature_weight * sum(
          jnp.mean(jnp.square(f - t)) for f, t in zip(feats, target_features))
    if settings.optimize_noise:
      loss += settings.noise_weight * noise_regularization(noise)
    return loss, jnp.mean(mse)

  def step(carry, variables, target, mask, init_noise, target_features):
    p, opt_state = carry
    (loss, mse), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        p, variables, target, mask, init_noise, target_features)
    updates, opt_state = tx.update(grads, opt_state, p)
    p = optax.apply_updates(p, updates)
    if settings.optimize_noise:
      p = {**p, 'noise': normalize_noise(p['noise'])}
    return (p, opt_state), {'loss': loss, 'mse': mse}
  return step


def _inversion_optimizer(settings: InversionSettings) -> optax.GradientTransformation:
  return optax.adam(projector_schedule(settings.learning_rate, settings.steps))


def inversion_start(init_latent: jax.Array, settings: InversionSettings, init_noise: Any = None):
  """The carry `inversion_step` starts from: ({'latent'[, 'noise']}, Adam's state)."""
  params = {'latent': init_latent}
  if settings.optimize_noise:
    params['noise'] = list(init_noise)
  return params, _inversion_optimizer(settings).init(params)


def invert(render: Callable[[jax.Array, Any], jax.Array], init_latent: jax.Array,
           target: jax.Array, mask: jax.Array | None = None,
           settings: InversionSettings = InversionSettings(), init_noise: Any = None,
           feature_fn: Callable[[jax.Array], Sequence[jax.Array]] | None = None,
           compiled_step: Callable | None = None, variables: Any = None):
  """Optimises the latent (and the noise if settings.optimize_noise) to reproduce target.

  render(latent, noise) -> images; or, with compiled_step (a jitted `inversion_step` built for
  these settings, reused across calls so it compiles once), render is ignored and the step
  renders with `variables`. Returns (latent, noise, history) with history {'loss', 'mse'} of
  shape [steps] (batch means). Call it outside jit (see `run_steps`)."""
  if compiled_step is None:
    compiled_step = jax.jit(inversion_step(lambda unused, x, n: render(x, n), settings,
                                           feature_fn))
  target_features = feature_fn(target) if feature_fn and settings.feature_weight else None
  (params, _), history = run_steps(compiled_step, inversion_start(init_latent, settings, init_noise),
                                   settings.steps, variables, target, mask, init_noise,
                                   target_features)
  return params['latent'], params.get('noise', init_noise), history


@dataclasses.dataclass(frozen=True)
class PivotalTuningSettings:
  steps: int = 350                 # PTI's default
  learning_rate: float = 3e-4      # Adam, as PTI
  locality_weight: float = 0.0     # PTI's locality regulariser (0 = off): G keeps its images at
  locality_alpha: float = 30.0     # latents this far (L2 in w) from the pivots toward random w's


def locality_latents(pivots: jax.Array, random_ws: jax.Array, alpha: float) -> jax.Array:
  """PTI's w_r = w_p + alpha (w_z - w_p) / ||w_z - w_p||: pivots [B, ...W] moved alpha toward
  random_ws [B, W] (per w+ layer when pivots are [B, L, W])."""
  toward = (random_ws[:, None] if pivots.ndim == 3 else random_ws) - pivots
  norm = jnp.linalg.norm(toward, axis=-1, keepdims=True)
  return pivots + alpha * toward / jnp.maximum(norm, 1e-8)


def tuning_step(render: Callable[[Any, jax.Array, Any], jax.Array],
                settings: PivotalTuningSettings):
  """The pure Adam step of `pivotal_tuning`, for jit:
  step((params, opt_state), pivots, target, noise, mask, nearby, original_nearby)
      -> ((params, opt_state), {'loss', 'mse'})
  with render(params, latent, noise) -> images; nearby / original_nearby: the locality latents
  and the untuned G's images of them (None when settings.locality_weight is 0)."""
  tx = _tuning_optimizer(settings)

  def loss_fn(p, pivots, target, noise, mask, nearby, original_nearby):
    mse = jnp.mean(masked_mse(render(p, pivots, noise), target, mask))
    loss = mse
    if settings.locality_weight > 0:
      loss += settings.locality_weight * jnp.mean(jnp.square(render(p, nearby, noise) -
                                                             original_nearby))
    return loss, mse

  def step(carry, *args):
    p, opt_state = carry
    (loss, mse), grads = jax.value_and_grad(loss_fn, has_aux=True)(p, *args)
    updates, opt_state = tx.update(grads, opt_state, p)
    return (optax.apply_updates(p, updates), opt_state), {'loss': loss, 'mse': mse}
  return step


def _tuning_optimizer(settings: PivotalTuningSettings) -> optax.GradientTransformation:
  return optax.adam(settings.learning_rate)


def tuning_start(params: Any, settings: PivotalTuningSettings):
  """The carry `tuning_step` starts from: (G's params, Adam's state)."""
  return params, _tuning_optimizer(settings).init(params)


def pivotal_tuning(render: Callable[[Any, jax.Array, Any], jax.Array], params: Any,
                   pivots: jax.Array, target: jax.Array, noise: Any = None,
                   mask: jax.Array | None = None,
                   settings: PivotalTuningSettings = PivotalTuningSettings(),
                   random_ws: jax.Array | None = None, compiled_step: Callable | None = None):
  """Fine-tunes G's params so that render(params, pivots, noise) reproduces target (PTI): Adam
  on every weight, loss = masked pixel MSE, plus locality_weight x the MSE between the tuned and
  the original G's images at `locality_latents(pivots, random_ws)` (random_ws [B, W], e.g. the
  mapping of fresh z; required when locality_weight > 0). The latents stay fixed; one G is tuned
  for the whole batch (PTI's multi-image form). compiled_step: a jitted `tuning_step(render,
  settings)` reused across calls (None: one is compiled here). Call it outside jit (see
  `run_steps`). Returns (params, history {'loss', 'mse'} [steps])."""
  if settings.locality_weight > 0 and random_ws is None:
    raise ValueError('pivotal_tuning: locality_weight > 0 needs random_ws (mapped fresh z)')
  nearby = original_nearby = None
  if settings.locality_weight > 0:
    nearby = locality_latents(pivots, random_ws, settings.locality_alpha)
    original_nearby = jax.lax.stop_gradient(render(params, nearby, noise))
  if compiled_step is None:
    compiled_step = jax.jit(tuning_step(render, settings))
  (params, _), history = run_steps(compiled_step, tuning_start(params, settings), settings.steps,
                                   pivots, target, noise, mask, nearby, original_nearby)
  return params, history


def stylegan_renderer(generator, variables, space: str) -> Callable[[jax.Array, Any], jax.Array]:
  """render(latent, noise) for a models.stylegan.Generator in the given latent space:
  'z' [B, Z] through the mapping network, 'w' [B, W] shared by every layer, 'w+' [B, num_ws, W]."""
  if space not in SPACES:
    raise ValueError(f'latent space {space!r}: choose one of {SPACES}')

  def render(latent, noise):
    if space == 'z':
      ws = generator.apply(variables, latent, method=generator.mapping_ws)
    elif space == 'w':
      ws = jnp.broadcast_to(latent[:, None], (latent.shape[0], generator.num_ws, latent.shape[-1]))
    else:
      ws = latent
    return generator.apply(variables, ws, noise, method=generator.synthesize)
  return render


def initial_latent(generator, variables, space: str, batch: int) -> jax.Array:
  """The StyleGAN2 projector's start: the tracked w average (w, w+), or zeros (z)."""
  if space == 'z':
    return jnp.zeros((batch, generator.z_dim))
  w_avg = variables['stats']['w_avg']
  if space == 'w':
    return jnp.broadcast_to(w_avg, (batch, w_avg.shape[0]))
  return jnp.broadcast_to(w_avg, (batch, generator.num_ws, w_avg.shape[0]))
