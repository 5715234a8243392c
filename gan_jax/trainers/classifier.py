"""Attribute (or class) classifier trained on the same data and loop as the GANs.

It judges translations independently of the GAN's own discriminator (the StarGAN paper's
protocol) and provides features/logits for classifier-based metrics.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gan_jax import checkpoint
from gan_jax import errors
from gan_jax import sharding
from gan_jax import train_state
from gan_jax import data as data_lib
from gan_jax.data import loader as loader_lib
from gan_jax.models import classifier as models
from gan_jax.trainers import loop

LOSSES = ('bce', 'softmax')


def build_model(config) -> models.Classifier:
  return models.Classifier(num_outputs=len(config.data.attrs), widths=tuple(config.model.widths))


def make_optimizer(config) -> optax.GradientTransformation:
  o = config.optim
  schedule = optax.warmup_cosine_decay_schedule(0.0, o.lr, min(o.warmup_steps, config.num_steps // 2),
                                                config.num_steps)
  return optax.adamw(schedule, weight_decay=o.weight_decay)


def classification_loss(logits: jax.Array, labels: jax.Array, kind: str) -> jax.Array:
  """bce: multi-label, summed over outputs; softmax: labels one-hot. Mean over the batch."""
  if kind == 'bce':
    return jnp.sum(optax.sigmoid_binary_cross_entropy(logits, labels)) / logits.shape[0]
  return jnp.mean(optax.softmax_cross_entropy(logits, labels))


def predictions(logits: jax.Array, kind: str) -> jax.Array:
  """Labels [B, A] in {0, 1} from logits: thresholded (bce) or one-hot argmax (softmax)."""
  if kind == 'bce':
    return (logits > 0).astype(jnp.float32)
  return jax.nn.one_hot(jnp.argmax(logits, -1), logits.shape[-1])


def make_init_state(model, tx, image_size: int):
  def init_state(key):
    params = model.init(key, jnp.zeros((1, image_size, image_size, 3), jnp.float32))
    return train_state.SupervisedState(step=jnp.zeros((), jnp.int32), params=params,
                                       opt_state=tx.init(params))
  return init_state


def make_train_step(model, tx, kind: str):
  """(state, {'image', 'label'}, key) -> (state, {'loss', 'accuracy'}); key unused (no dropout)."""
  def train_step(state, batch, key):  # pylint: disable=unused-argument
    def loss_fn(params):
      logits, _ = model.apply(params, batch['image'])
      return classification_loss(logits, batch['label'], kind), logits
    (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    accuracy = jnp.mean(predictions(logits, kind) == batch['label'])
    state = state.replace(step=state.step + 1, params=optax.apply_updates(state.params, updates),
                          opt_state=opt_state)
    return state, {'loss': loss, 'accuracy': accuracy}
  return train_step


@functools.partial(jax.jit, static_argnums=0)
def _apply(model, params, images):
  return model.apply(params, images)


@dataclasses.dataclass
class TrainedClassifier:
  """A restored classifier: logits/labels/features of images float [B, S, S, 3] in [-1, 1]."""
  model: models.Classifier
  params: Any
  attr_names: tuple[str, ...]
  image_size: int
  kind: str
  step: int

  def logits_and_features(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    logits, features = _apply(self.model, self.params, jnp.asarray(images, jnp.float32))
    return np.asarray(logits), np.asarray(features)

  def predict(self, images: np.ndarray) -> np.ndarray:
    """Labels [B, A] in {0, 1}."""
    return np.asarray(predictions(jnp.asarray(self.logits_and_features(images)[0]), self.kind))


def per_attribute_accuracy(model_predict, source, batch_size: int = 256,
                           limit: int | None = None) -> np.ndarray:
  """Accuracy of each column [A] over the first `limit` examples of `source`."""
  correct, count = 0.0, 0
  for batch in loader_lib.ordered_batches(source, batch_size, limit):
    correct = correct + np.sum(model_predict(batch['image']) == batch['label'], axis=0)
    count += len(batch['label'])
  return correct / max(count, 1)


def make_task(config: ml_collections.ConfigDict, workdir: str) -> loop.Task:
  if config.loss not in LOSSES:
    raise errors.ConfigError(f'config.loss={config.loss!r}: choose one of {LOSSES}')
  sharding.check_batch_size(config.batch_size, sharding.make_mesh())
  train_source = data_lib.make_source(config.data, 'train')
  test_source = data_lib.make_source(config.data, 'test')
  model, tx = build_model(config), make_optimizer(config)
  attr_names = tuple(config.data.attrs)
  loader = loader_lib.BatchLoader(train_source, config.batch_size, config.seed,
                                  rows=sharding.process_batch_slice(config.batch_size),
                                  num_threads=config.get('data_threads', 4))

  def evaluate(state, step):
    judge = TrainedClassifier(model, state.params, attr_names, config.data.image_size,
                              config.loss, step)
    accuracy = per_attribute_accuracy(judge.predict, test_source,
                                      limit=config.eval_examples or None)
    result = {f'test/accuracy/{name}': float(a) for name, a in zip(attr_names, accuracy)}
    result['test/accuracy'] = float(np.mean(accuracy))
    if jax.process_index() == 0:
      with open(os.path.join(workdir, 'eval_test.json'), 'w', encoding='utf-8') as f:
        json.dump({'step': step, **result}, f, indent=2)
    return result

  return loop.Task(init_state=make_init_state(model, tx, config.data.image_size),
                   train_steps={'train': make_train_step(model, tx, config.loss)},
                   loader=loader, evaluate=evaluate)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, **unused) -> Any:
  """--mode=train: trains the classifier; test accuracy lands in metrics and eval_test.json."""
  return loop.train(config, workdir, make_task(config, workdir))


def load_config(workdir: str) -> ml_collections.ConfigDict:
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    raise checkpoint.NoCheckpointError(
        f'{workdir!r} has no config.json: train a classifier there first with '
        f'python main.py --config=configs/classifier.py --workdir={workdir}')
  with open(path, encoding='utf-8') as f:
    return ml_collections.ConfigDict(json.load(f))


def restore(workdir: str) -> TrainedClassifier:
  """The classifier of a trained workdir (its own config.json says how it was built)."""
  config = load_config(workdir)
  model, tx = build_model(config), make_optimizer(config)
  init = make_init_state(model, tx, config.data.image_size)
  template = checkpoint.replicated_template(init, sharding.make_mesh())
  state, step = checkpoint.restore_latest(workdir, template)
  return TrainedClassifier(model, state.params, tuple(config.data.attrs), config.data.image_size,
                           config.loss, step)


MODES = {'train': train_and_evaluate}
