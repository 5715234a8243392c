"""Attribute-guided latent edits: a latent attribute model and per-sample edits that keep the rest.

A linear direction moves every latent the same way, so an attribute that is not a half-space of
w (brown hair lies between black and blond; age and smiles are spread over the layers) flips
rarely, and whatever else the direction carries changes with it. Here the edit is found for
each latent separately, in the spirit of InterFaceGAN's conditional manipulation made local
(Shen et al. 2020) and of the latent-classifier editors (Zhuang et al. 2021, "Enjoy your
editing"; Yao et al. 2021, "A latent transformation model"):

1. `fit_latent_classifier`: a small MLP reads w [B, W] and predicts the image classifier's
   logits for G(w) [B, A] (trained on sampled latents and the classifier's logits of their
   images, the same labels InterFaceGAN fits its boundaries to; soft targets sigmoid(logit)).
2. `guided_offsets`: for each latent, the offset delta minimising
     sum_pushed relu(margin - sign_a f_a(w + delta))^2                 drive the edited attributes
   + keep_weight * sum_kept (sigmoid f_a(w + delta) - sigmoid f_a(w))^2  keep the others' readings
   + distance_weight * mean((delta / std_w)^2)                          stay close to w
   by Adam on delta (in units of w's per-dimension spread). The margin is the edit's strength:
   "+3" asks for the attribute's logit to reach at least +3, "-3" at most -3; a latent that is
   already there barely moves. No image and no image classifier is involved at edit time.

Latents are w [B, W]. A w+ latent [B, L, W] (an inverted image) is read through its mean over
layers and gets the same offset in every layer (or the layers asked for).

Everything here is a pure function of arrays; the model is a flax.linen module, its state a
`LatentClassifier` that `save_latent_classifier` / `load_latent_classifier` keep in one .npz.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from typing import Any, Callable, Sequence

import flax.linen as nn
from flax import traverse_util
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gan_jax import errors
from gan_jax.editing import inversion


class LatentAttributeMLP(nn.Module):
  """[B, W] normalised latents -> [B, A] logits: `depth` hidden layers of `hidden` units (SiLU)."""
  num_attrs: int
  hidden: int = 256
  depth: int = 2

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    for _ in range(self.depth):
      x = nn.silu(nn.Dense(self.hidden)(x))
    return nn.Dense(self.num_attrs)(x)


@dataclasses.dataclass(frozen=True)
class LatentClassifier:
  """A trained latent attribute model: logits = MLP((w - mean) / std).

  params: the MLP's parameters; mean, std: [W] of the latents it was fitted on; attr_names: its
  columns; info: how it was fitted (sizes, held-out agreement with the image classifier).
  """
  params: Any
  mean: np.ndarray
  std: np.ndarray
  attr_names: tuple[str, ...]
  hidden: int
  depth: int
  info: dict = dataclasses.field(default_factory=dict)

  @property
  def module(self) -> LatentAttributeMLP:
    return LatentAttributeMLP(len(self.attr_names), self.hidden, self.depth)

  def logits(self, w: jax.Array) -> jax.Array:
    """w [B, W] (or w+ [B, L, W], read through its layer mean) -> logits [B, A]."""
    return _logits(self.module, self.params, self.mean, self.std, jnp.asarray(w, jnp.float32))


@dataclasses.dataclass(frozen=True)
class FitSettings:
  hidden: int = 256
  depth: int = 2
  steps: int = 3000               # at most; the parameters kept are those of the best step
  batch_size: int = 256
  learning_rate: float = 1e-3
  weight_decay: float = 1e-4
  holdout: float = 0.1            # fraction of the samples kept out to measure agreement
  validation: float = 0.1         # fraction of the rest that picks the step (early stopping)
  eval_every: int = 100
  seed: int = 0


def soft_bce(logits: jax.Array, target_logits: jax.Array) -> jax.Array:
  """Mean binary cross-entropy against soft targets sigmoid(target_logits); minimised (to the
  targets' entropy) exactly where logits == target_logits."""
  return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, jax.nn.sigmoid(target_logits)))


def fit_latent_classifier(latents: np.ndarray, target_logits: np.ndarray,
                          attr_names: Sequence[str],
                          settings: FitSettings = FitSettings()) -> LatentClassifier:
  """Fits the MLP to an image classifier's logits of G's images.

  latents [N, W] (w of the images), target_logits [N, A] (the classifier's logits). The last
  `holdout` fraction is kept out of everything; of the rest, the last `validation` fraction
  picks the step: the parameters kept are those with the lowest validation loss, evaluated every
  `eval_every` steps (labels read off generated images are noisy, and an MLP learns the noise).
  info reports the held-out agreement of the signs per attribute and the soft cross-entropy of
  each split. Deterministic for settings.seed.
  """
  x = np.asarray(latents, np.float32)
  y = np.asarray(target_logits, np.float32)
  if x.ndim != 2 or y.ndim != 2 or len(x) != len(y) or y.shape[1] != len(attr_names):
    raise ValueError(f'latents {x.shape} and logits {y.shape} for {len(attr_names)} attributes: '
                     'want [N, W] and [N, A]')
  n_hold = int(round(len(x) * settings.holdout))
  n_val = int(round((len(x) - n_hold) * settings.validation))
  n_train = len(x) - n_hold - n_val
  if n_train < 2 or n_val < 1:
    raise ValueError(f'{len(x)} samples leave {n_train} to train on and {n_val} to validate: '
                     'sample more latents')
  mean, std = x[:n_train].mean(0), x[:n_train].std(0) + 1e-6
  xs = jnp.asarray((x - mean) / std)
  splits = dict(train=(xs[:n_train], y[:n_train]), validation=(
      xs[n_train:n_train + n_val], y[n_train:n_train + n_val]), holdout=(
          xs[n_train + n_val:], y[n_train + n_val:]))
  module = LatentAttributeMLP(len(attr_names), settings.hidden, settings.depth)
  loss_of = lambda p, split: float(soft_bce(module.apply({'params': p}, splits[split][0]),
                                            splits[split][1]))
  train_x, train_y = jnp.asarray(splits['train'][0]), jnp.asarray(splits['train'][1])
  params, opt_state = _init_mlp(module, settings, train_x)
  best = (loss_of(params, 'validation'), 0, params)
  keys = jax.random.split(jax.random.fold_in(jax.random.key(settings.seed), 1), settings.steps)
  for start in range(0, settings.steps, settings.eval_every):
    chunk = keys[start:start + settings.eval_every]
    params, opt_state = _train_mlp(module, settings, params, opt_state, chunk, train_x, train_y)
    val = loss_of(params, 'validation')
    if val < best[0]:
      best = (val, start + len(chunk), params)
  params = jax.device_get(best[2])
  info = dict(num_train=n_train, num_validation=n_val, num_holdout=n_hold, steps=settings.steps,
              best_step=best[1], train_loss=loss_of(params, 'train'), validation_loss=best[0])
  if n_hold:
    held = np.asarray(module.apply({'params': params}, splits['holdout'][0]))
    agree = np.mean((held > 0) == (splits['holdout'][1] > 0), axis=0)
    info.update(holdout_loss=loss_of(params, 'holdout'),
                holdout_agreement={a: float(v) for a, v in zip(attr_names, agree)})
  return LatentClassifier(params, mean, std, tuple(attr_names), settings.hidden, settings.depth,
                          info)


def _optimizer(settings: FitSettings) -> optax.GradientTransformation:
  return optax.adamw(optax.cosine_decay_schedule(settings.learning_rate, settings.steps),
                     weight_decay=settings.weight_decay)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _init_mlp(module: LatentAttributeMLP, settings: FitSettings, train_x: jax.Array):
  params = module.init(jax.random.key(settings.seed), train_x[:1])['params']
  return params, _optimizer(settings).init(params)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _train_mlp(module: LatentAttributeMLP, settings: FitSettings, params, opt_state,
               keys: jax.Array, train_x: jax.Array, train_y: jax.Array):
  """len(keys) AdamW steps (cosine-decayed over settings.steps) on the soft cross-entropy of
  random minibatches: (params, opt_state). Compiled once per module, settings and shapes."""
  tx = _optimizer(settings)
  n_train = train_x.shape[0]
  batch = min(settings.batch_size, n_train)

  def step(carry, key):
    p, state = carry
    idx = jax.random.choice(key, n_train, (batch,), replace=False)
    grads = jax.grad(
        lambda q: soft_bce(module.apply({'params': q}, train_x[idx]), train_y[idx]))(p)
    updates, state = tx.update(grads, state, p)
    return (optax.apply_updates(p, updates), state), None

  (params, opt_state), _ = jax.lax.scan(step, (params, opt_state), keys)
  return params, opt_state


# ----------------------------------------------------------------------------------------------
# Edits


@dataclasses.dataclass(frozen=True)
class GuidedEditSettings:
  steps: int = 100
  learning_rate: float = 0.05     # Adam, on the offset in units of w's per-dimension std
  keep_weight: float = 10.0
  distance_weight: float = 0.01


def _logits(module: LatentAttributeMLP, params, mean, std, w: jax.Array) -> jax.Array:
  if w.ndim == 3:
    w = jnp.mean(w, axis=1)
  return module.apply({'params': params}, (w - mean) / std)


def edit_loss(logits: jax.Array, delta: jax.Array, push: jax.Array, margin: jax.Array,
              keep: jax.Array, start_probs: jax.Array,
              settings: GuidedEditSettings) -> jax.Array:
  """Per-sample guided-edit loss [B] (see the module docstring): logits [B, A] of the edited
  latents, delta [B, W] their normalised offset; push [B, A] in {-1, 0, +1}; margin [B, A] >= 0;
  keep [B, A] in {0, 1}; start_probs [B, A] = sigmoid of the unedited latents' logits."""
  drive = jnp.sum(jnp.square(jax.nn.relu(margin - push * logits)) * jnp.abs(push), axis=-1)
  kept = jnp.sum(keep * jnp.square(jax.nn.sigmoid(logits) - start_probs), axis=-1)
  distance = jnp.mean(jnp.square(delta), axis=-1)
  return drive + settings.keep_weight * kept + settings.distance_weight * distance


def guided_offsets(classifier: LatentClassifier, w: jax.Array, push: jax.Array,
                   margin: jax.Array, keep: jax.Array,
                   settings: GuidedEditSettings = GuidedEditSettings()) -> jax.Array:
  """The latent offsets [B, W] of guided edits of w [B, W] (or w+ [B, L, W], read through its
  layer mean): push [B, A] in {-1, 0, +1} (the side each driven attribute must reach), margin
  [B, A] >= 0 (how far past the boundary, in logits), keep [B, A] in {0, 1} (attributes whose
  reading must stay). Every sample is optimised independently, by `settings.steps` Adam steps
  in one compiled program (compiled once per model shape, settings and batch shape)."""
  w = jnp.asarray(w, jnp.float32)
  if w.ndim == 3:
    w = jnp.mean(w, axis=1)
  push, margin, keep = (jnp.asarray(a, jnp.float32) for a in (push, margin, keep))
  return _guided_offsets(classifier.module, settings, classifier.params,
                         jnp.asarray(classifier.mean), jnp.asarray(classifier.std), w, push,
                         margin, keep)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _guided_offsets(module, settings, params, mean, std, w, push, margin, keep):
  logits_of = lambda delta: _logits(module, params, mean, std, w + delta * std)
  start_probs = jax.nn.sigmoid(logits_of(jnp.zeros_like(w)))
  tx = optax.adam(settings.learning_rate)
  loss = lambda d: jnp.sum(edit_loss(logits_of(d), d, push, margin, keep, start_probs, settings))

  def step(carry, _):
    delta, opt_state = carry
    updates, opt_state = tx.update(jax.grad(loss)(delta), opt_state, delta)
    return (optax.apply_updates(delta, updates), opt_state), None

  delta = jnp.zeros_like(w)
  (delta, _), _ = jax.lax.scan(step, (delta, tx.init(delta)), None, length=settings.steps)
  return delta * std


def judged_edit_step(logits_fn: Callable[[Any, jax.Array, jax.Array], jax.Array],
                     settings: GuidedEditSettings, layers: tuple[int, int] | None = None,
                     num_ws: int | None = None):
  """The pure Adam step of `judged_offsets`, for jit:
  step((delta, opt_state, key), aux, latent, std, push, margin, keep, start_probs)
      -> ((delta, opt_state, key), {'loss', 'reached'})
  minimising `edit_loss` of logits_fn(aux, edited, key) [D, B, A], averaged over its D
  renderings, where edited = apply_offsets(latent, delta * std, layers, num_ws) and delta [B, W]
  is the offset in units of std. logits_fn is an image classifier's logits of G's images of the
  edited latents: rendering 0 with the sample's own noise maps, any others e.g. with fresh noise
  maps drawn from key (an expectation over transformations: the edit must hold beyond one set of
  maps). 'reached': the share of driven attributes past their margin in rendering 0."""
  tx = optax.adam(settings.learning_rate)

  def loss_fn(delta, key, aux, latent, std, push, margin, keep, start_probs):
    logits = logits_fn(aux, apply_offsets(latent, delta * std, layers, num_ws), key)
    loss = jnp.sum(jnp.mean(
        edit_loss(logits, delta, push, margin, keep, start_probs, settings), axis=0))
    driven = jnp.abs(push) > 0
    reached = jnp.sum(driven & (push * logits[0] >= margin)) / jnp.maximum(jnp.sum(driven), 1)
    return loss, reached

  def step(carry, aux, latent, std, push, margin, keep, start_probs):
    delta, opt_state, key = carry
    key, sub = jax.random.split(key)
    (loss, reached), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        delta, sub, aux, latent, std, push, margin, keep, start_probs)
    updates, opt_state = tx.update(grads, opt_state, delta)
    return ((optax.apply_updates(delta, updates), opt_state, key),
            dict(loss=loss, reached=reached))
  return step


def judged_offsets(step: Callable, aux: Any, latent: jax.Array, std: jax.Array,
                   push: jax.Array, margin: jax.Array, keep: jax.Array, start_logits: jax.Array,
                   steps: int, key: jax.Array | None = None) -> tuple[jax.Array, dict]:
  """(offsets [B, W], history): guided edits of latent (w [B, W] or w+ [B, L, W]) found through
  the image classifier itself instead of the latent classifier: `steps` calls of a jitted
  `judged_edit_step` from delta = 0 (a Python loop: XLA:CPU runs convolutions in a while loop
  several times slower, see inversion.run_steps). std [W]: the offset's unit (w's
  per-dimension spread); push, margin, keep [B, A] as in `guided_offsets`; start_logits [B, A]:
  the classifier's logits of the unedited images (what `keep` holds); key: the step's
  randomness (fresh noise maps), default key(0). history: 'loss' and 'reached', [steps].

  The classifier that guides the edit cannot also judge it: it is optimised against, and reads
  what it was pushed to read (benchmarks/judged_edits.py measures by how much)."""
  latent = jnp.asarray(latent, jnp.float32)
  delta = jnp.zeros((latent.shape[0], latent.shape[-1]), jnp.float32)
  state = optax.adam(1.0).init(delta)   # Adam's state does not depend on the learning rate
  key = jax.random.key(0) if key is None else key
  args = [jnp.asarray(a, jnp.float32) for a in (std, push, margin, keep)]
  (delta, _, _), history = inversion.run_steps(
      step, (delta, state, key), steps, aux, latent, *args,
      jax.nn.sigmoid(jnp.asarray(start_logits, jnp.float32)))
  return delta * args[0], history


def apply_offsets(latent: jax.Array, offsets: jax.Array, layers: tuple[int, int] | None = None,
                  num_ws: int | None = None) -> jax.Array:
  """latent + offsets: w [B, W] stays w when layers is None; otherwise (or for w+ [B, L, W])
  the offset is added to the w+ layers [start, stop) only (w broadcast to num_ws layers)."""
  latent, offsets = jnp.asarray(latent), jnp.asarray(offsets)
  if latent.ndim == 2 and layers is None:
    return latent + offsets
  if latent.ndim == 2:
    if num_ws is None:
      raise ValueError('an edit on a layer range needs num_ws to broadcast w to w+')
    latent = jnp.broadcast_to(latent[:, None], (latent.shape[0], num_ws, latent.shape[-1]))
  start, stop = layers or (0, latent.shape[1])
  if not 0 <= start < stop <= latent.shape[1]:
    raise ValueError(f'layer range {layers} outside 0..{latent.shape[1]}')
  in_range = ((jnp.arange(latent.shape[1]) >= start) & (jnp.arange(latent.shape[1]) < stop))
  return latent + in_range[None, :, None] * offsets[:, None, :]


def edit_request(attr_names: Sequence[str], edits: Sequence[tuple[str, float]], batch: int,
                 exclusive_groups: Sequence[Sequence[str]] = ()) -> tuple[np.ndarray, ...]:
  """(push, margin, keep) [batch, A] for named edits [(attribute, signed strength), ...].

  +s drives the attribute's logit to >= s, -s to <= -s. Turning on a member of an exclusive
  group (hair colours) also drives the group's other members off; every attribute outside the
  edited attributes' groups is kept. KeyError-free: a ConfigError names the known attributes.
  """
  names = list(attr_names)
  push = np.zeros((batch, len(names)), np.float32)
  margin = np.zeros((batch, len(names)), np.float32)
  touched: set[int] = set()
  for name, strength in edits:
    if name not in names:
      raise errors.ConfigError(f'no attribute {name!r} in the latent classifier; it reads: '
                               f'{", ".join(names)}')
    if strength == 0:
      continue
    i = names.index(name)
    group = next((g for g in exclusive_groups if name in g), (name,))
    members = [names.index(a) for a in group if a in names]
    touched.update(members)
    if strength > 0:
      for j in members:
        if j != i and push[0, j] == 0:
          push[:, j], margin[:, j] = -1.0, abs(strength)
    push[:, i], margin[:, i] = np.sign(strength), abs(strength)
  keep = np.ones((batch, len(names)), np.float32)
  keep[:, sorted(touched)] = 0.0
  return push, margin, keep


# ----------------------------------------------------------------------------------------------
# On disk


def save_latent_classifier(path: str, classifier: LatentClassifier) -> None:
  """One .npz: the MLP's parameters, the normalisation and a JSON header; written atomically."""
  flat = traverse_util.flatten_dict(jax.device_get(classifier.params), sep='/')
  header = dict(attr_names=list(classifier.attr_names), hidden=classifier.hidden,
                depth=classifier.depth, info=classifier.info)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path + '.tmp', 'wb') as f:
    np.savez(f, header=np.asarray(json.dumps(header)), mean=classifier.mean, std=classifier.std,
             **{'param/' + k: np.asarray(v) for k, v in flat.items()})
  os.replace(path + '.tmp', path)


def load_latent_classifier(path: str) -> LatentClassifier:
  """The LatentClassifier of a save_latent_classifier file; a clear error when it is missing."""
  if not os.path.exists(path):
    raise errors.InputNotFoundError(
        f'no latent classifier at {path}: fit one with --mode=directions and a judge '
        '(--config.edit.judge=CLASSIFIER_WORKDIR; it writes WORKDIR/edits/latent_classifier.npz)')
  with np.load(path) as data:
    header = json.loads(str(data['header']))
    flat = {k[len('param/'):]: np.asarray(data[k]) for k in data.files if k.startswith('param/')}
    return LatentClassifier(traverse_util.unflatten_dict(flat, sep='/'), np.asarray(data['mean']),
                            np.asarray(data['std']), tuple(header['attr_names']),
                            int(header['hidden']), int(header['depth']), header['info'])
