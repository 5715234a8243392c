"""The training loop every method shares.

A method hands over a `Task`: a pure `init_state(key) -> state`, one or more pure
`train_step(state, batch, key) -> (state, metrics)` variants with a rule saying which runs at
each step (e.g. D-only and D+G steps under n_critic), and a deterministic loader. The loop jits the
step over a data-parallel mesh (batch on 'data', state replicated and donated), derives each
step's key as fold_in(loop_key, state.step), logs, writes samples, and checkpoints with Orbax:
every `ckpt_every` steps, at the end and on SIGTERM. Rerunning the same command resumes from the
latest checkpoint and continues exactly as if never stopped (the batches and keys of step s
depend only on the seed and s). A non-finite loss or parameter stops the run before any save.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import threading
import time
from typing import Any, Callable, Iterator

from absl import logging
import jax
import ml_collections
import numpy as np

from gan_jax import checkpoint
from gan_jax import errors
from gan_jax import metric_writer
from gan_jax import sharding
from gan_jax import train_state
from gan_jax.data import loader as loader_lib

Metrics = dict[str, jax.Array]


class NonFiniteError(errors.UserError, FloatingPointError):
  """A loss or parameter became NaN/inf; the run stopped without saving it."""


@dataclasses.dataclass
class Task:
  """What a method gives the shared loop.

  init_state:    key -> state, pure (jitted by the loop, output replicated).
  train_steps:   {name: (state, batch, key) -> (state, metrics)}, pure; scalar metrics, the
                 same names in every variant. A metric group 'g/...' may carry 'g/weight' (0 or
                 1): its window average then counts only the steps with weight 1.
  step_schedule: step index -> name of the variant that runs it (default: the only one).
  loader:        deterministic batches by step.
  write_samples: (state, step) -> None, host side (sample grids); optional.
  evaluate:      (state, step) -> {name: value}, host side; optional, every eval_every steps and
                 at the end.
  """
  init_state: Callable[[jax.Array], Any]
  train_steps: dict[str, Callable[[Any, dict, jax.Array], tuple[Any, Metrics]]]
  loader: loader_lib.BatchLoader
  step_schedule: Callable[[int], str] | None = None
  write_samples: Callable[[Any, int], None] | None = None
  evaluate: Callable[[Any, int], dict[str, float]] | None = None

  def variant(self, step: int) -> str:
    if self.step_schedule is None:
      (name,) = self.train_steps
      return name
    return self.step_schedule(step)


def root_keys(seed: int) -> tuple[jax.Array, jax.Array]:
  """(init_key, loop_key) from config.seed; every random number of a run derives from these."""
  init_key, loop_key = jax.random.split(jax.random.key(seed))
  return init_key, loop_key


# Initialisation runs once: compiling it without LLVM optimisation cuts its compile time ~4x on
# XLA:CPU (dozens of random initialisers); values differ from an optimised build only in the
# last float bit (~2e-8), and a run is deterministic because it always builds it this way.
FAST_COMPILE = {'xla_backend_optimization_level': 0}


def init_state(task: Task, seed: int, mesh: jax.sharding.Mesh) -> Any:
  """The initial state, replicated on the mesh."""
  init_key, _ = root_keys(seed)
  init = jax.jit(task.init_state, out_shardings=sharding.replicated(mesh),
                 compiler_options=FAST_COMPILE)
  return init(init_key)


def compile_step(train_step, mesh: jax.sharding.Mesh, state: Any, batch: dict,
                 loop_key: jax.Array):
  """AOT-compiles (state, batch, loop_key) -> (state, metrics), the key of each step being
  fold_in(loop_key, state.step); returns (compiled, seconds). The state is donated."""
  def step_with_key(state, batch, loop_key):
    return train_step(state, batch, jax.random.fold_in(loop_key, state.step))

  replicated, batch_sharded = sharding.replicated(mesh), sharding.batch_sharded(mesh)
  jitted = jax.jit(step_with_key, in_shardings=(replicated, batch_sharded, replicated),
                   out_shardings=(replicated, replicated), donate_argnums=(0,))
  start = time.perf_counter()
  compiled = jitted.lower(state, batch, loop_key).compile()
  return compiled, time.perf_counter() - start


def average_metrics(window: list[dict[str, np.ndarray]]) -> dict[str, float]:
  """Means over a window of per-step metrics, honouring 'group/weight' keys."""
  if not window:
    return {}
  out = {}
  for name in window[0]:
    if name.endswith('/weight'):
      continue
    weight_name = name.split('/')[0] + '/weight'
    values = np.asarray([m[name] for m in window], np.float64)
    weights = np.asarray([m.get(weight_name, 1.0) for m in window], np.float64)
    if weights.sum() > 0:
      out[name] = float((values * weights).sum() / weights.sum())
  return out


def check_finite(window: list[dict[str, np.ndarray]], first_step: int) -> None:
  """Raises NonFiniteError naming the first step and metric that is NaN/inf."""
  for offset, metrics in enumerate(window):
    bad = [k for k, v in metrics.items() if not np.all(np.isfinite(v))]
    if bad:
      raise NonFiniteError(
          f'loss became non-finite at step {first_step + offset + 1}: '
          f'{ {k: float(metrics[k]) for k in bad} }. The run stopped and nothing from it was '
          f'saved; the latest checkpoint is still good. Lower the learning rates '
          f'(config.optim.*) or check the data, then rerun to resume.')


class _StopFlag:
  """Set by SIGTERM (preemption): the loop saves and returns at the next step."""

  def __init__(self):
    self.requested = False

  @contextlib.contextmanager
  def installed(self):
    if threading.current_thread() is not threading.main_thread():
      yield self
      return
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum, frame):  # pylint: disable=unused-argument
      logging.warning('SIGTERM received: saving a checkpoint and stopping.')
      self.requested = True

    signal.signal(signal.SIGTERM, handler)
    try:
      yield self
    finally:
      signal.signal(signal.SIGTERM, previous)


def write_config(config: ml_collections.ConfigDict, workdir: str) -> None:
  if jax.process_index() == 0:
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, 'config.json'), 'w', encoding='utf-8') as f:
      f.write(config.to_json_best_effort(indent=2, sort_keys=True))


def check_matches_workdir(config: ml_collections.ConfigDict, workdir: str,
                          fields: tuple[str, ...], defaults: dict | None = None) -> None:
  """ConfigError if workdir/config.json was trained with other values of `fields` (dotted names
  of fields that change the shapes of the saved state); `defaults` gives the value a field had
  in runs made before it existed. No config.json: nothing to check."""
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    return
  with open(path, encoding='utf-8') as f:
    trained = json.load(f)
  now = json.loads(config.to_json_best_effort())
  defaults = defaults or {}
  for field in fields:
    def get(tree, field=field):
      for key in field.split('.'):
        if not isinstance(tree, dict) or key not in tree:
          return defaults.get(field)
        tree = tree[key]
      return tree
    if get(trained) != get(now):
      raise errors.ConfigError(
          f'config.{field} differs from the run in {workdir}: trained with {get(trained)}, now '
          f'{get(now)}. Pass the same --config (and overrides) that trained it.')


def _save(manager, state, step: int, window: list, window_start: int) -> None:
  """Saves only a state whose recent losses and every parameter are finite."""
  check_finite(jax.device_get(window), window_start)
  if not bool(jax.jit(train_state.all_finite)(state)):
    raise NonFiniteError(f'a parameter became non-finite by step {step}; not saving it. '
                         f'Lower the learning rates and rerun to resume from the last checkpoint.')
  checkpoint.save(manager, step, state)
  logging.info('Saving checkpoint %d (async).', step)


def train(config: ml_collections.ConfigDict, workdir: str, task: Task) -> Any:
  """Runs (or resumes) training to config.num_steps; returns the final state."""
  mesh = sharding.make_mesh()
  sharding.check_batch_size(config.batch_size, mesh)
  write_config(config, workdir)
  _, loop_key = root_keys(config.seed)
  manager = checkpoint.make_manager(workdir, max_to_keep=config.max_to_keep)
  if manager.latest_step() is None:
    state = init_state(task, config.seed, mesh)
  else:
    state = checkpoint.restore(manager, checkpoint.replicated_template(task.init_state, mesh))
    logging.info('Resumed from %s at step %d.', checkpoint.checkpoint_dir(workdir),
                 int(state.step))
  start_step = int(state.step)
  writer = metric_writer.MetricWriter(workdir, tensorboard=config.get('tensorboard', True))
  try:
    if start_step >= config.num_steps:
      logging.info('Already trained to step %d (num_steps=%d).', start_step, config.num_steps)
      return state
    batches = task.loader.iterate(start_step)
    state = _run_steps(config, task, mesh, state, batches, loop_key, manager, writer)
    batches.close()
    return state
  finally:
    manager.wait_until_finished()
    manager.close()
    writer.close()


def _run_steps(config, task: Task, mesh, state, batches: Iterator[dict], loop_key, manager,
               writer) -> Any:
  """The loop body: steps from state.step to num_steps with logging, samples and checkpoints."""
  step = int(state.step)
  loop_key = jax.device_put(loop_key, sharding.replicated(mesh))
  batch = sharding.global_batch(next(batches), mesh)
  compiled = {}
  window, window_start, t0 = [], step, time.perf_counter()
  with _StopFlag().installed() as stop:
    while True:
      name = task.variant(step)
      if name not in compiled:
        compiled[name], seconds = compile_step(task.train_steps[name], mesh, state, batch,
                                               loop_key)
        logging.info('Compiled train step %r in %.1f s.', name, seconds)
        t0 += seconds   # steps/s counts running time, not compiling
      state, metrics = compiled[name](state, batch, loop_key)
      if window:
        # Dispatch is asynchronous: wait for the previous step so the host runs at most one step
        # ahead and a SIGTERM is acted on within a step, not after a long queue of them.
        jax.block_until_ready(window[-1])
      window.append(metrics)
      step += 1
      finished = step >= config.num_steps
      done = finished or stop.requested
      if step % config.log_every == 0 or done:
        host_window = jax.device_get(window)
        check_finite(host_window, window_start)
        elapsed = time.perf_counter() - t0
        steps_per_s = len(window) / max(elapsed, 1e-9)
        scalars = average_metrics(host_window)
        scalars.update(steps_per_s=steps_per_s,
                       eta_min=(config.num_steps - step) / steps_per_s / 60)
        writer.write(step, scalars)
        window, window_start, t0 = [], step, time.perf_counter()
      # On preemption the grace period is short: save first, skip the final samples and eval
      # (the resumed run makes them when it finishes).
      if task.write_samples and (step % config.sample_every == 0 or finished):
        task.write_samples(state, step)
      if task.evaluate and (step % config.eval_every == 0 or finished):
        writer.write(step, task.evaluate(state, step))
      # A SIGTERM during the hooks above saves this step; on multi-host TPU, Orbax's sync point
      # makes every host stop at the same step when one of them is being preempted.
      done = done or stop.requested or manager.reached_preemption(step)
      if step % config.ckpt_every == 0 or done:
        _save(manager, state, step, window, window_start)
      if done:
        if step < config.num_steps:
          logging.warning('Stopped at step %d on preemption; rerun the same command to resume.',
                          step)
        return state
      batch = sharding.global_batch(next(batches), mesh)
