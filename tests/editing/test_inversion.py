import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax.editing import inversion
from gan_jax.models import stylegan


@pytest.fixture(scope='module')
def generator():
  g = stylegan.Generator(image_size=16, z_dim=8, w_dim=8, mapping_depth=2, channel_base=128,
                         channel_max=16)
  z = jax.random.normal(jax.random.key(0), (64, 8))
  variables = g.init(jax.random.key(1), z, train=False)
  _, stats = g.apply(variables, z, train=True, mutable=['stats'])   # a non-zero w average
  return g, {'params': variables['params'], 'stats': stats['stats']}


def test_projector_schedule_ramps_up_and_down():
  schedule = inversion.projector_schedule(0.1, 100)
  np.testing.assert_allclose([schedule(0), schedule(5), schedule(50), schedule(100)],
                             [0.0, 0.1, 0.1, 0.0], atol=1e-7)
  assert 0 < float(schedule(90)) < 0.1


def test_masked_mse_by_hand():
  target = jnp.zeros((1, 2, 2, 3))
  images = jnp.asarray([[[[1.0] * 3, [2.0] * 3], [[0.0] * 3, [0.0] * 3]]])
  np.testing.assert_allclose(inversion.masked_mse(images, target, None), [5.0 / 4])
  mask = jnp.asarray([[[[1.0], [0.0]], [[1.0], [0.0]]]])
  np.testing.assert_allclose(inversion.masked_mse(images, target, mask), [0.5])


def test_noise_regularization_is_zero_for_white_noise_limit_and_large_for_smooth_maps():
  white = [jax.random.normal(jax.random.key(0), (1, 64, 64, 1))]
  smooth = [jnp.broadcast_to(jnp.linspace(-1, 1, 64)[None, :, None, None], (1, 64, 64, 1))]
  assert float(inversion.noise_regularization(white)) < 1e-3
  assert float(inversion.noise_regularization(smooth)) > 0.1
  normed = inversion.normalize_noise(smooth)[0]
  np.testing.assert_allclose([float(normed.mean()), float(normed.std())], [0.0, 1.0], atol=1e-5)


def test_inverting_a_generated_image_reaches_near_zero_error(generator):
  # w first (the StyleGAN2 projector's space), then w+ from there: each reaches near-zero error.
  g, variables = generator
  w_true = g.apply(variables, jax.random.normal(jax.random.key(7), (2, 8)), method=g.mapping_ws)
  target = g.apply(variables, w_true, method=g.synthesize)
  render_w = inversion.stylegan_renderer(g, variables, 'w')
  init = inversion.initial_latent(g, variables, 'w', 2)
  start = float(jnp.mean(inversion.masked_mse(render_w(init, None), target, None)))
  settings = inversion.InversionSettings(steps=400, learning_rate=0.05)
  w, _, history = inversion.invert(render_w, init, target, settings=settings)
  after_w = float(jnp.mean(inversion.masked_mse(render_w(w, None), target, None)))
  assert history['mse'].shape == (400,)
  assert after_w < 1e-3 * start and after_w < 1e-3, (start, after_w)
  render_plus = inversion.stylegan_renderer(g, variables, 'w+')
  w_plus = jnp.broadcast_to(w[:, None], (2, g.num_ws, 8))
  np.testing.assert_allclose(render_plus(w_plus, None), render_w(w, None), atol=1e-6)
  w_plus, _, _ = inversion.invert(
      render_plus, w_plus, target, settings=inversion.InversionSettings(steps=200,
                                                                        learning_rate=0.01))
  after_plus = float(jnp.mean(inversion.masked_mse(render_plus(w_plus, None), target, None)))
  assert after_plus < 1e-5, (after_w, after_plus)   # stays at the solution


def test_run_steps_equals_a_scan_of_the_step_and_gives_empty_histories_for_no_steps():
  # The Python loop (fast on XLA:CPU) computes what lax.scan of the same step computes.
  def step(carry, scale):
    x, n = carry
    x = jnp.sin(x) * scale + n
    return (x, n + 1.0), {'sum': jnp.sum(x), 'first': x[0]}
  carry = (jnp.linspace(-1.0, 1.0, 5), jnp.zeros(()))
  (x, n), history = inversion.run_steps(jax.jit(step), carry, 7, 0.9)
  (x_ref, n_ref), ref = jax.lax.scan(lambda c, _: step(c, 0.9), carry, None, length=7)
  np.testing.assert_allclose(x, x_ref, rtol=1e-6)
  assert float(n) == float(n_ref) == 7.0
  chex.assert_trees_all_close(history, ref, rtol=1e-6)
  chex.assert_shape(history['sum'], (7,))
  same, empty = inversion.run_steps(step, carry, 0, 0.9)
  assert same is carry
  chex.assert_shape([empty['sum'], empty['first']], [(0,), (0,)])


def test_a_compiled_inversion_step_is_reused_across_batches(generator):
  # What gan_editing does: one jitted step for a generator and settings, called for every
  # batch, gives the same inversion as a step compiled for the call, and compiles once.
  g, variables = generator
  settings = inversion.InversionSettings(steps=15, learning_rate=0.05)
  render = lambda v, x, n: inversion.stylegan_renderer(g, v, 'w')(x, n)
  step = jax.jit(inversion.inversion_step(render, settings))
  for seed in (5, 6):
    target = g.apply(variables, jax.random.normal(jax.random.key(seed), (2, 8)), train=False)
    init = inversion.initial_latent(g, variables, 'w', 2)
    shared, _, history = inversion.invert(None, init, target, None, settings,
                                          compiled_step=step, variables=variables)
    own, _, own_history = inversion.invert(inversion.stylegan_renderer(g, variables, 'w'), init,
                                           target, None, settings)
    np.testing.assert_allclose(shared, own, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(history['mse'], own_history['mse'], rtol=1e-5)
  assert step._cache_size() == 1   # pylint: disable=protected-access


def test_masked_inversion_ignores_the_unknown_pixels(generator):
  # Inpainting: the target is corrupted inside a hole; with the hole masked out, inversion
  # restores the generated image there too.
  g, variables = generator
  w_true = g.apply(variables, jax.random.normal(jax.random.key(3), (1, 8)), method=g.mapping_ws)
  clean = g.apply(variables, w_true, method=g.synthesize)
  mask = jnp.ones((1, 16, 16, 1)).at[:, 4:10, 4:10].set(0.0)
  damaged = clean * mask + (1 - mask) * 1.0            # a white square
  render = inversion.stylegan_renderer(g, variables, 'w')
  latent, _, _ = inversion.invert(render, inversion.initial_latent(g, variables, 'w', 1),
                                  damaged, mask,
                                  inversion.InversionSettings(steps=400, learning_rate=0.05))
  restored = render(latent, None)
  hole = 1 - mask
  hole_error = float(jnp.sum(jnp.square(restored - clean) * hole) / (3 * jnp.sum(hole)))
  damaged_error = float(jnp.sum(jnp.square(damaged - clean) * hole) / (3 * jnp.sum(hole)))
  assert hole_error < 0.05 * damaged_error, (hole_error, damaged_error)


def test_noise_maps_are_optimised_and_stay_normalised(generator):
  g, variables = generator
  target = g.apply(variables, jax.random.normal(jax.random.key(3), (1, 8)), train=False)
  noise = g.apply(variables, jax.random.key(4), 1, method=g.random_noise)
  render = inversion.stylegan_renderer(g, variables, 'w')
  _, new_noise, history = inversion.invert(
      render, inversion.initial_latent(g, variables, 'w', 1), target,
      settings=inversion.InversionSettings(steps=20, optimize_noise=True), init_noise=noise)
  assert len(new_noise) == len(noise)
  for n in new_noise:
    np.testing.assert_allclose([float(n.mean()), float(n.std())], [0.0, 1.0], atol=1e-3)
  assert np.all(np.isfinite(history['loss']))
  with pytest.raises(ValueError, match='latent space'):
    inversion.stylegan_renderer(g, variables, 'p')


def test_locality_latents_lie_alpha_from_the_pivots_toward_the_random_ws():
  pivots = jax.random.normal(jax.random.key(0), (3, 4, 8))           # w+ pivots
  random_ws = jax.random.normal(jax.random.key(1), (3, 8))
  nearby = inversion.locality_latents(pivots, random_ws, 2.5)
  step = nearby - pivots
  np.testing.assert_allclose(jnp.linalg.norm(step, axis=-1), 2.5, rtol=1e-5)
  toward = random_ws[:, None] - pivots                               # parallel, same sense
  cos = jnp.sum(step * toward, -1) / (jnp.linalg.norm(step, axis=-1) *
                                      jnp.linalg.norm(toward, axis=-1))
  np.testing.assert_allclose(cos, 1.0, rtol=1e-5)
  np.testing.assert_allclose(inversion.locality_latents(pivots[:, 0], random_ws, 2.5),
                             nearby[:, 0], rtol=1e-6)               # w pivots [B, W] alike


def test_pivotal_tuning_fits_an_image_outside_g_and_locality_limits_the_change(generator):
  g, variables = generator
  stats = {'stats': variables['stats']}
  render = lambda p, ws, noise: g.apply({'params': p, **stats}, ws, noise, method=g.synthesize)
  pivots = inversion.initial_latent(g, variables, 'w+', 2)
  target = jax.random.uniform(jax.random.key(2), (2, 16, 16, 3), minval=-1, maxval=1)
  random_ws = g.apply(variables, jax.random.normal(jax.random.key(3), (2, 8)),
                      method=g.mapping_ws)[:, 0]
  before = float(jnp.mean(inversion.masked_mse(render(variables['params'], pivots, None),
                                               target, None)))
  tune = lambda p, s: inversion.pivotal_tuning(render, p, pivots, target, None, None, s,
                                               random_ws)
  free = inversion.PivotalTuningSettings(steps=60, learning_rate=3e-3)
  tuned, history = tune(variables['params'], free)
  assert float(history['mse'][-1]) < 0.5 * before, (before, history['mse'][-1])
  np.testing.assert_allclose(history['mse'][0], before, rtol=1e-5)   # step 0 is the untuned G
  assert jax.tree.structure(tuned) == jax.tree.structure(variables['params'])
  # The locality term keeps G's images near the pivots closer to the original G's.
  local = inversion.PivotalTuningSettings(steps=60, learning_rate=3e-3, locality_weight=10.0,
                                          locality_alpha=1.0)
  tuned_local, _ = tune(variables['params'], local)
  nearby = inversion.locality_latents(pivots, random_ws, 1.0)
  drift = lambda p: float(jnp.mean(jnp.square(render(p, nearby, None) -
                                              render(variables['params'], nearby, None))))
  assert drift(tuned_local) < drift(tuned), (drift(tuned_local), drift(tuned))
  with pytest.raises(ValueError, match='random_ws'):
    inversion.pivotal_tuning(render, variables['params'], pivots, target, settings=local)
