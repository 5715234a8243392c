import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax.editing import directions
from gan_jax.editing import edits
from gan_jax.editing import inversion
from gan_jax.models import stylegan


@pytest.fixture(scope='module')
def generator():
  g = stylegan.Generator(image_size=16, z_dim=8, w_dim=8, mapping_depth=2, channel_base=128,
                         channel_max=16)
  z = jax.random.normal(jax.random.key(0), (2, 8))
  variables = g.init(jax.random.key(1), z, train=False)
  ws = g.apply(variables, z, method=g.mapping_ws)
  return g, variables, ws


def test_parse_edit_spec():
  assert edits.parse_edit_spec('Smiling:+2, Male:-1') == [('Smiling', 2.0), ('Male', -1.0)]
  assert edits.parse_edit_spec('Young|Male:0.5') == [('Young|Male', 0.5)]
  for bad in ('Smiling', 'Smiling:x', ':2', ''):
    with pytest.raises(ValueError, match='NAME:STRENGTH'):
      edits.parse_edit_spec(bad)


def test_resolution_layer_ranges(generator):
  g, _, ws = generator
  num_ws = ws.shape[1]                   # 16 px: 4, 8, 16 px -> 6 w+ entries, two per resolution
  assert num_ws == 6
  assert edits.resolution_layer_ranges(num_ws) == [(0, 2), (0, 4), (2, 4), (2, 6), (4, 6)]
  odd = edits.resolution_layer_ranges(7)
  assert (6, 7) in odd and (4, 7) in odd and (0, 7) not in odd and len(odd) == 9
  assert edits.resolution_layer_ranges(1) == []
  with pytest.raises(ValueError, match='num_ws'):
    edits.resolution_layer_ranges(0)


def test_apply_directions_closed_form():
  a = directions.Direction('a', np.array([1.0, 0.0, 0.0], np.float32), scale=2.0)
  b = directions.Direction('b', np.array([0.0, 1.0, 0.0], np.float32), scale=0.5)
  w = jnp.zeros((2, 3))
  out = edits.apply_directions(w, [a, b], [1.5, -2.0])
  np.testing.assert_allclose(out, [[3.0, -1.0, 0.0]] * 2)
  per_row = edits.apply_directions(w, [a, b], [[1.0, 0.0], [0.0, 1.0]], in_scale_units=False)
  np.testing.assert_allclose(per_row, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
  np.testing.assert_array_equal(edits.apply_directions(w, [], jnp.zeros((0,))), w)


def test_a_layer_range_edit_changes_only_those_layers():
  d = directions.Direction('d', np.array([0.0, 0.0, 1.0], np.float32), layers=(1, 3))
  w = jnp.ones((2, 3))
  out = edits.apply_directions(w, [d], [2.0], num_ws=4)
  chex.assert_shape(out, (2, 4, 3))
  np.testing.assert_allclose(out[:, [0, 3]], 1.0)
  np.testing.assert_allclose(out[:, 1:3, 2], 3.0)
  with pytest.raises(ValueError, match='num_ws'):
    edits.apply_directions(w, [d], [2.0])
  with pytest.raises(ValueError, match='outside'):
    edits.apply_directions(w, [d], [2.0], num_ws=2)


def test_style_mix_takes_the_layer_range_from_the_second():
  a, b = jnp.zeros((1, 6, 2)), jnp.ones((1, 6, 2))
  mixed = edits.style_mix(a, b, (2, 4))
  np.testing.assert_array_equal(mixed[0, :, 0], [0, 0, 1, 1, 0, 0])


def test_masked_edit_keeps_pixels_outside_the_mask(generator):
  g, variables, ws = generator
  d = directions.Direction('d', directions.unit(np.arange(1.0, 9.0)), scale=1.0)
  ws_edit = edits.apply_directions(ws, [d], [3.0])
  original = g.apply(variables, ws, method=g.synthesize)
  edited_everywhere = g.apply(variables, ws_edit, method=g.synthesize)
  mask = jnp.zeros((2, 16, 16, 1)).at[:, 4:12, 4:12].set(1.0)
  for from_resolution in (4, 8):
    out = edits.masked_edit(g, variables, ws, ws_edit, mask, from_resolution=from_resolution)
    chex.assert_shape(out, (2, 16, 16, 3))
    outside = np.asarray(mask[..., 0] == 0)
    # equal up to float rounding: the blend renders 2B rows in one batch, `original` B rows, and
    # XLA's CPU convolutions may sum in another order for another batch (1 ulp seen on AMD EPYC)
    np.testing.assert_allclose(np.asarray(out)[outside], np.asarray(original)[outside],
                               rtol=0, atol=1e-5)
    inside_change = float(jnp.mean(jnp.abs(out - original)[:, 5:11, 5:11]))
    assert inside_change > 0.3 * float(jnp.mean(jnp.abs(edited_everywhere - original)[:, 5:11, 5:11]))
  full = edits.masked_edit(g, variables, ws, ws_edit, jnp.ones((2, 16, 16, 1)))
  np.testing.assert_allclose(full, edited_everywhere, atol=1e-5)
  noise = g.apply(variables, jax.random.key(3), 2, method=g.random_noise)
  none = edits.masked_edit(g, variables, ws, ws_edit, jnp.zeros((2, 16, 16, 1)), noise)
  np.testing.assert_allclose(none, g.apply(variables, ws, noise, method=g.synthesize), atol=1e-5)


def test_masked_edit_by_optimization_keeps_the_outside_close(generator):
  g, variables, ws = generator
  d = directions.Direction('d', directions.unit(np.arange(1.0, 9.0)), scale=1.0)
  ws_edit = edits.apply_directions(ws, [d], [3.0])
  render = inversion.stylegan_renderer(g, variables, 'w+')
  mask = jnp.zeros((2, 16, 16, 1)).at[:, :, :8].set(1.0)
  original, edited = render(ws, None), render(ws_edit, None)
  settings = inversion.InversionSettings(steps=150, learning_rate=0.05)
  _, images = edits.masked_edit_by_optimization(render, ws, ws_edit, mask, settings=settings)
  outside = lambda x: float(jnp.mean(jnp.square(x - original)[:, :, 8:]))
  assert outside(images) < 0.2 * outside(edited), (outside(images), outside(edited))


def test_pixel_blend_and_edit_targets():
  np.testing.assert_allclose(edits.pixel_blend(jnp.zeros((1, 1, 2, 1)), jnp.ones((1, 1, 2, 1)),
                                               jnp.asarray([[[[1.0], [0.25]]]])),
                             [[[[1.0], [0.25]]]])
  judged = np.array([[1.0, 0.0], [0.0, 0.0]])
  np.testing.assert_array_equal(edits.edit_targets(judged, 1, +2.0), [[1, 1], [0, 1]])
  np.testing.assert_array_equal(edits.edit_targets(judged, 0, -1.0), [[0, 0], [0, 0]])
