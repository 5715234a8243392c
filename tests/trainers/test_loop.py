"""The shared loop: exact resume after an interruption, SIGTERM, NaN handling, outputs."""

import json
import os
import signal

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import stargan as stargan_config
from gan_jax import checkpoint
from gan_jax import train_state
from gan_jax.data import base
from gan_jax.data import loader as loader_lib
from gan_jax.trainers import loop
from gan_jax.trainers import stargan


def smoke_config(num_steps=6):
  config = stargan_config.get_config('smoke')
  config.num_steps = num_steps
  config.optim.decay_steps = 2
  config.ckpt_every = 100     # only at the end or on SIGTERM
  config.sample_every = 100
  config.tensorboard = False
  return config


def host_leaves(state):
  return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(state))]


def sigterm_at(task, step_to_stop):
  """Makes the task's sample hook send SIGTERM to this process after `step_to_stop`."""
  original = task.write_samples

  def write_samples(state, step):
    original(state, step)
    if step == step_to_stop:
      os.kill(os.getpid(), signal.SIGTERM)
  task.write_samples = write_samples
  return task


@pytest.fixture(scope='module')
def straight_run(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('straight'))
  config = smoke_config()
  state = loop.train(config, workdir, stargan.make_task(config, workdir))
  return workdir, host_leaves(state)


def test_interrupted_run_resumes_bit_identically(straight_run, tmp_path):
  _, expected = straight_run
  workdir = str(tmp_path)
  config = smoke_config()
  config.sample_every = 1
  # Stop after step 3 (a D-only step, inside an n_critic cycle) by SIGTERM, as on preemption.
  stopped = loop.train(config, workdir, sigterm_at(stargan.make_task(config, workdir), 3))
  assert int(stopped.step) == 3
  manager = checkpoint.make_manager(workdir, for_reading=True)
  assert manager.latest_step() == 3
  manager.close()
  # Rerunning the same command resumes and finishes.
  resumed = loop.train(config, workdir, stargan.make_task(config, workdir))
  assert int(resumed.step) == 6
  got = host_leaves(resumed)
  assert len(got) == len(expected)
  for a, b in zip(got, expected):
    np.testing.assert_array_equal(a, b)


def test_finished_run_is_not_retrained(straight_run):
  workdir, expected = straight_run
  config = smoke_config()
  state = loop.train(config, workdir, stargan.make_task(config, workdir))
  for a, b in zip(host_leaves(state), expected):
    np.testing.assert_array_equal(a, b)


def test_run_writes_config_metrics_and_samples(straight_run):
  workdir, _ = straight_run
  with open(os.path.join(workdir, 'config.json')) as f:
    assert json.load(f)['trainer'] == 'stargan'
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    records = [json.loads(line) for line in f]
  assert [r['step'] for r in records][:3] == [2, 4, 6]
  for key in ('d/loss', 'd/loss_gp', 'g/loss_rec', 'steps_per_s', 'eta_min'):
    assert all(np.isfinite(r[key]) for r in records)
  assert all(r['g/loss_rec'] > 0 for r in records)   # averaged over G steps only
  samples = os.listdir(os.path.join(workdir, 'samples'))
  assert 'step_0000006.png' in samples


class _Source(base.ArraySource):
  pass


def nan_task(nan_at_step):
  """A one-parameter 'model' whose loss turns NaN at a given step."""
  source = base.ArraySource(np.zeros((8, 4, 4, 3), np.uint8), np.zeros((8, 1), np.float32), ('a',))

  def init_state(key):
    del key
    return train_state.SupervisedState(step=jnp.zeros((), jnp.int32), params={'w': jnp.ones(3)},
                                       opt_state=())

  def train_step(state, batch, key):
    del batch, key
    bad = state.step + 1 >= nan_at_step
    loss = jnp.where(bad, jnp.nan, 1.0)
    params = {'w': state.params['w'] + jnp.where(bad, jnp.nan, 1.0)}
    return state.replace(step=state.step + 1, params=params), {'loss': loss}

  return loop.Task(init_state=init_state, train_steps={'train': train_step},
                   loader=loader_lib.BatchLoader(source, 8, seed=0))


def test_nan_loss_stops_the_run_and_is_never_saved(tmp_path):
  config = smoke_config(num_steps=10)
  config.ckpt_every = 2
  config.log_every = 3
  with pytest.raises(loop.NonFiniteError, match='step 5'):
    loop.train(config, str(tmp_path), nan_task(nan_at_step=5))
  manager = checkpoint.make_manager(str(tmp_path), for_reading=True)
  assert manager.all_steps() == [2, 4]
  restored = checkpoint.restore(manager, nan_task(5).init_state(None))
  manager.close()
  assert np.all(np.isfinite(restored.params['w']))


def test_average_metrics_honours_weights():
  window = [{'d/loss': 1.0, 'g/loss': 0.0, 'g/weight': 0.0},
            {'d/loss': 3.0, 'g/loss': 5.0, 'g/weight': 1.0}]
  assert loop.average_metrics(window) == {'d/loss': 2.0, 'g/loss': 5.0}
