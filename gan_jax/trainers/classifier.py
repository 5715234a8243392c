"""Attribute (or class) classifier trained on the same data and loop as the GANs.

It judges translations independently of the GAN's own discriminator (the StarGAN paper's
protocol) and provides features/logits for classifier-based metrics.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from typing import Any, Callable

from absl import logging
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
from gan_jax.metrics import features
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
    accuracy = (jnp.mean(jnp.argmax(logits, -1) == jnp.argmax(batch['label'], -1))
                if kind == 'softmax' else jnp.mean(predictions(logits, kind) == batch['label']))
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


def top1_accuracy(model_predict, source, class_names, batch_size: int = 256,
                  limit: int | None = None) -> dict[str, float]:
  """{'test/accuracy': top-1 accuracy, 'test/accuracy/<class>': recall of each class} for
  one-hot labels, over the first `limit` examples of `source`."""
  hits = np.zeros(len(class_names))
  totals = np.zeros(len(class_names))
  for batch in loader_lib.ordered_batches(source, batch_size, limit):
    truth = np.argmax(batch['label'], -1)
    correct = np.argmax(model_predict(batch['image']), -1) == truth
    np.add.at(hits, truth, correct)
    np.add.at(totals, truth, 1)
  result = {f'test/accuracy/{name}': float(h / t) if t else float('nan')
            for name, h, t in zip(class_names, hits, totals)}
  result['test/accuracy'] = float(hits.sum() / max(totals.sum(), 1))
  return result


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
    if config.loss == 'softmax':   # top-1 accuracy, and the recall of each class
      result = top1_accuracy(judge.predict, test_source, attr_names,
                             limit=config.eval_examples or None)
    else:
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
  state, step = checkpoint.restore_latest_replicated(workdir, init)
  return TrainedClassifier(model, state.params, tuple(config.data.attrs), config.data.image_size,
                           config.loss, step)


def evaluate_workdir(config: ml_collections.ConfigDict, workdir: str, **unused) -> dict:
  """--mode=eval: test accuracy of the latest checkpoint (the workdir's own config), written to
  workdir/eval/<step>.json and workdir/eval/report.html."""
  from gan_jax import evaluation   # pylint: disable=g-import-not-at-top
  from gan_jax import report       # pylint: disable=g-import-not-at-top
  del config   # the classifier is rebuilt from workdir/config.json, as it was trained
  trained = restore(workdir)
  source = data_lib.make_source(load_config(workdir).data, 'test')
  if trained.kind == 'softmax':
    result = top1_accuracy(trained.predict, source, trained.attr_names)
  else:
    accuracy = per_attribute_accuracy(trained.predict, source)
    result = {f'test/accuracy/{n}': float(a) for n, a in zip(trained.attr_names, accuracy)}
    result['test/accuracy'] = float(np.mean(accuracy))
  result.update(step=trained.step, num_images=len(source), method='classifier')
  evaluation.write_eval(workdir, trained.step, result)
  per_attribute = {'test accuracy': {n: result[f'test/accuracy/{n}'] for n in trained.attr_names}}
  html_text = report.render(f'Classifier eval: {workdir}', result,
                            evaluation.read_eval_history(workdir), {}, per_attribute,
                            [f'{len(source)} test images; {trained.kind} outputs.'])
  with open(os.path.join(workdir, 'eval', 'report.html'), 'w', encoding='utf-8') as f:
    f.write(html_text)
  logging.info('Test accuracy at step %d: %.4f', trained.step, result['test/accuracy'])
  return result


MODES = {'train': train_and_evaluate, 'eval': evaluate_workdir}


def feature_extractor(workdir: str, resize: str = 'clean') -> features.Extractor:
  """The penultimate features and logits of a trained classifier, as a metrics extractor."""
  trained = restore(workdir)
  apply = jax.jit(lambda x: dict(zip(('logits', 'features'),
                                     trained.model.apply(trained.params, x))))
  width = int(trained.model.widths[-1])
  return features.Extractor(
      name=f'classifier:{workdir}', input_size=trained.image_size, feature_dim=width,
      resize=resize, comparable_to_papers=False, apply=apply, weights_hash=f'step{trained.step}',
      description=f'classifier {workdir} (step {trained.step}, {trained.kind} over '
                  f'{len(trained.attr_names)} outputs), penultimate {width}-d features, '
                  f'resize {resize} to {trained.image_size} px')


def feature_stack(workdir_or_trained) -> Callable[[np.ndarray], list]:
  """images [B, S, S, 3] in [-1, 1] -> the outputs of every conv block (a perceptual stack)."""
  trained = (restore(workdir_or_trained) if isinstance(workdir_or_trained, str)
             else workdir_or_trained)

  @jax.jit
  def stack(images):
    _, state = trained.model.apply(
        trained.params, images,
        capture_intermediates=lambda module, name: isinstance(module, models.ConvBlock),
        mutable=['intermediates'])
    blocks = state['intermediates']
    return [blocks[name]['__call__'][0] for name in sorted(blocks, key=_block_index)
            if name.startswith('ConvBlock_')]

  return lambda images: stack(jnp.asarray(images, jnp.float32))


def _block_index(name: str) -> int:
  return int(name.rsplit('_', 1)[-1]) if name.rsplit('_', 1)[-1].isdigit() else -1
