"""The attribute classifier on the shared loop, and its use as a judge of StarGAN."""

import os

import chex
import numpy as np
import pytest

from configs import classifier as classifier_config
from configs import stargan as stargan_config
from gan_jax import data as data_lib
from gan_jax.data import base
from gan_jax.trainers import classifier
from gan_jax.trainers import loop
from gan_jax.trainers import stargan


@pytest.fixture(scope='module')
def trained_classifier(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('classifier'))
  config = classifier_config.get_config('smoke')
  config.tensorboard = False
  loop.train(config, workdir, classifier.make_task(config, workdir))
  return workdir


def test_restored_classifier_predicts_labels_and_features(trained_classifier):
  judge = classifier.restore(trained_classifier)
  assert judge.step == 3 and judge.image_size == 16
  images = np.zeros((3, 16, 16, 3), np.float32)
  logits, features = judge.logits_and_features(images)
  chex.assert_shape(logits, (3, 5))
  chex.assert_shape(features, (3, 8))
  labels = judge.predict(images)
  assert set(np.unique(labels)) <= {0.0, 1.0}


def test_per_attribute_accuracy_by_hand():
  labels = np.asarray([[1, 0], [1, 1], [0, 0], [0, 1]], np.float32)
  source = base.ArraySource(np.zeros((4, 2, 2, 3), np.uint8), labels, ('a', 'b'))
  always_one = lambda images: np.ones((len(images), 2), np.float32)
  np.testing.assert_allclose(classifier.per_attribute_accuracy(always_one, source, 3), [0.5, 0.5])


def test_softmax_predictions_are_one_hot():
  logits = np.asarray([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0]], np.float32)
  np.testing.assert_array_equal(classifier.predictions(logits, 'softmax'), [[0, 1, 0], [1, 0, 0]])
  np.testing.assert_array_equal(classifier.predictions(logits, 'bce'), [[1, 1, 0], [1, 0, 0]])


def test_judge_evaluates_a_stargan_run(trained_classifier, tmp_path):
  workdir = str(tmp_path)
  config = stargan_config.get_config('smoke')
  config.tensorboard = False
  loop.train(config, workdir, stargan.make_task(config, workdir))
  judge = classifier.restore(trained_classifier)
  result = stargan.evaluate_attribute_transfer(config, workdir, judge, num_images=16,
                                               batch_size=8)
  assert result['num_images'] == 16 and result['step'] == 4
  for key in ('transfer_accuracy', 'preservation'):
    assert 0.0 <= result[key] <= 1.0
  assert result['num_changed/Male'] == 16   # a flip always changes a binary attribute
  assert 0 < result['num_changed/Blond_Hair'] <= 16


def test_top1_accuracy_and_class_recall_by_hand():
  labels = np.eye(3, dtype=np.float32)[[0, 0, 1, 2, 2, 2]]
  source = base.ArraySource(np.zeros((6, 4, 4, 3), np.uint8), labels, ('a', 'b', 'c'))
  guesses = np.eye(3, dtype=np.float32)[[0, 1, 1, 2, 0, 2]]
  result = classifier.top1_accuracy(lambda images: guesses[:len(images)], source, ('a', 'b', 'c'))
  assert result['test/accuracy'] == pytest.approx(4 / 6)
  assert result['test/accuracy/a'] == 0.5 and result['test/accuracy/b'] == 1.0
  assert result['test/accuracy/c'] == pytest.approx(2 / 3)


def test_eval_mode_writes_accuracy_and_report(trained_classifier):
  result = classifier.evaluate_workdir(None, trained_classifier)
  test_source = data_lib.make_source(classifier.load_config(trained_classifier).data, 'test')
  expected = classifier.per_attribute_accuracy(classifier.restore(trained_classifier).predict,
                                               test_source)
  assert result['test/accuracy'] == pytest.approx(float(np.mean(expected)))
  assert os.path.exists(os.path.join(trained_classifier, 'eval', 'report.html'))
  assert os.path.exists(os.path.join(trained_classifier, 'eval', f'{result["step"]:07d}.json'))
