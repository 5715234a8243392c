import chex
import jax
import numpy as np
import pytest

from gan_jax.editing import directions
from gan_jax.models import stylegan


def test_linear_boundary_separates_a_separable_toy_set():
  rng = np.random.default_rng(0)
  normal = directions.unit(rng.normal(size=8))
  x = rng.normal(size=(400, 8)) * rng.uniform(0.5, 2.0, size=8) + 3.0   # anisotropic, off-centre
  margin = x @ normal - 3.0 * normal.sum()
  keep = np.abs(margin) > 0.3                                           # a clear margin
  x, labels = x[keep], (margin[keep] > 0).astype(np.float32)
  found, offset, accuracy = directions.fit_linear_boundary(x, labels)
  assert accuracy == 1.0
  np.testing.assert_allclose(np.linalg.norm(found), 1.0, rtol=1e-6)
  assert np.all(((x @ found + offset) > 0) == (labels > 0))
  assert float(found @ normal) > 0.95


def test_linear_boundary_rejects_one_class():
  with pytest.raises(ValueError, match='both classes'):
    directions.fit_linear_boundary(np.zeros((4, 2)), np.ones(4))


def test_confident_split_takes_the_extremes():
  pos, neg = directions.confident_split(np.array([0.0, 5.0, -3.0, 1.0, -1.0]), 0.4)
  assert sorted(pos) == [1, 3] and sorted(neg) == [2, 4]


def test_interfacegan_direction_recovers_the_attribute_normal():
  rng = np.random.default_rng(1)
  truth = directions.unit(rng.normal(size=16))
  w = rng.normal(size=(2000, 16))
  scores = w @ truth + 0.1 * rng.normal(size=2000)
  d = directions.interfacegan_direction('Smiling', w, scores, fraction=0.25)
  assert d.name == 'Smiling' and d.info['method'] == 'interfacegan'
  assert float(d.vector @ truth) > 0.97
  np.testing.assert_allclose(d.scale, np.std(w @ d.vector), rtol=1e-5)


def test_orthogonalized_direction_is_orthogonal_and_closed_form():
  rng = np.random.default_rng(2)
  v, o1, o2 = rng.normal(size=(3, 10))
  one = directions.orthogonalize(v, [o1])
  expected = v - (v @ o1) / (o1 @ o1) * o1
  np.testing.assert_allclose(one, expected / np.linalg.norm(expected), rtol=1e-5, atol=1e-6)
  two = directions.orthogonalize(v, [o1, o2])
  np.testing.assert_allclose([two @ o1, two @ o2, np.linalg.norm(two)], [0, 0, 1], atol=1e-6)
  primary = directions.Direction('Young', directions.unit(v), scale=2.0)
  cond = directions.conditional_direction(
      primary, [directions.Direction('Male', directions.unit(o1)),
                directions.Direction('Eyeglasses', directions.unit(o2))])
  assert cond.name == 'Young|Male,Eyeglasses' and cond.scale == 2.0
  np.testing.assert_allclose(cond.vector, two, atol=1e-6)


def _genforce_sefa(kernels):
  """genforce/sefa's factorize_weight on torch-layout weights [C, W] (weight.T = our kernel)."""
  weight = np.concatenate([k for k in kernels], axis=1).astype(np.float64)   # [W, sum C]
  weight = weight / np.linalg.norm(weight, axis=0, keepdims=True)
  values, vectors = np.linalg.eig(weight.dot(weight.T))
  order = np.argsort(values.real)[::-1]
  return values.real[order], vectors.real.T[order]


def test_sefa_directions_are_the_top_eigenvectors_of_the_style_projection():
  rng = np.random.default_rng(3)
  kernels = [rng.normal(size=(12, 7)) * rng.uniform(0.1, 3, size=12)[:, None],
             rng.normal(size=(12, 5))]
  found = directions.sefa_directions(kernels, num=4)
  values, vectors = _genforce_sefa(kernels)
  a = directions.sefa_matrix(kernels)
  for rank, d in enumerate(found):
    np.testing.assert_allclose(abs(float(d.vector @ vectors[rank])), 1.0, atol=1e-5)
    np.testing.assert_allclose(d.info['eigenvalue'], values[rank], rtol=1e-6)
    # the eigen-equation and the variational property: |A^T v|^2 = lambda >= any later one
    np.testing.assert_allclose(a @ (a.T @ d.vector), values[rank] * d.vector, atol=1e-4)
  gram = np.stack([d.vector for d in found])
  np.testing.assert_allclose(gram @ gram.T, np.eye(4), atol=1e-5)


def test_stylegan_style_kernels_follow_the_w_indices():
  g = stylegan.Generator(image_size=16, z_dim=8, w_dim=8, mapping_depth=1, channel_base=64,
                         channel_max=8)
  params = g.init(jax.random.key(0), np.zeros((1, 8), np.float32), train=False)['params']
  layers = stylegan.style_layers(16)
  assert len(layers) == g.num_ws == 6
  assert layers[1] == [('b4_torgb',), ('b8_conv0', 'conv')]
  all_kernels = directions.stylegan_style_kernels(params, 16)
  assert len(all_kernels) == 8                      # 5 convs + 3 toRGBs on 6 w's
  coarse = directions.stylegan_style_kernels(params, 16, (0, 2))
  chex.assert_shape(coarse, [(8, 8)] * 3)
  np.testing.assert_array_equal(coarse[0], params['synthesis']['b4_conv']['conv']['affine']['kernel'])
  with pytest.raises(ValueError, match='no style layers'):
    directions.stylegan_style_kernels(params, 16, (3, 3))


def test_ganspace_finds_the_axis_of_largest_variance():
  rng = np.random.default_rng(4)
  basis = np.linalg.qr(rng.normal(size=(6, 6)))[0]
  stds = np.array([5.0, 2.0, 1.0, 0.5, 0.2, 0.1])
  w = (rng.normal(size=(5000, 6)) * stds) @ basis.T + 7.0
  found = directions.ganspace_directions(w, num=2)
  for rank in range(2):
    assert abs(float(found[rank].vector @ basis[:, rank])) > 0.99
    np.testing.assert_allclose(found[rank].scale, stds[rank], rtol=0.05)


def test_attribute_vector_is_the_difference_of_class_means():
  latents = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 4.0], [0.0, 0.0]])
  d = directions.attribute_vector('Male', latents, np.array([1, 1, 0, 0]))
  diff = np.array([2.0, -2.0])
  np.testing.assert_allclose(d.vector, diff / np.linalg.norm(diff), rtol=1e-6)
  np.testing.assert_allclose(d.scale, np.linalg.norm(diff), rtol=1e-6)


def test_save_and_load_round_trip(tmp_path):
  ds = [directions.Direction('Smiling', directions.unit(np.arange(1.0, 5.0)), (2, 5), 1.5,
                             dict(method='interfacegan', train_accuracy=0.99)),
        directions.Direction('pc0', directions.unit(np.ones(4)))]
  path = str(tmp_path / 'd' / 'directions.npz')
  directions.save_directions(path, ds)
  loaded = directions.load_directions(path)
  assert list(loaded) == ['Smiling', 'pc0']
  np.testing.assert_array_equal(loaded['Smiling'].vector, ds[0].vector)
  assert loaded['Smiling'].layers == (2, 5) and loaded['Smiling'].scale == 1.5
  assert loaded['Smiling'].info['train_accuracy'] == 0.99 and loaded['pc0'].layers is None
  with pytest.raises(FileNotFoundError, match='find directions first'):
    directions.load_directions(str(tmp_path / 'missing.npz'))
  with pytest.raises(ValueError, match='duplicate'):
    directions.save_directions(path, [ds[1], ds[1]])
