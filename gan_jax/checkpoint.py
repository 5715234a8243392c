"""Orbax checkpoints of a whole train state under `workdir/checkpoints/`.

Saves are asynchronous and atomic (a save killed midway leaves the previous step restorable);
restores place every array with the sharding of a template state.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import orbax.checkpoint as ocp

from gan_jax import sharding

from gan_jax.errors import UserError


class NoCheckpointError(UserError, FileNotFoundError):
  """The workdir holds no checkpoint to restore."""


def checkpoint_dir(workdir: str) -> str:
  return os.path.join(os.path.abspath(workdir), 'checkpoints')


def make_manager(workdir: str, max_to_keep: int = 3, async_save: bool = True,
                 for_reading: bool = False) -> ocp.CheckpointManager:
  """A manager for training (creates the folder, removes partial saves) or for reading only."""
  options = ocp.CheckpointManagerOptions(
      max_to_keep=max_to_keep, enable_async_checkpointing=async_save,
      cleanup_tmp_directories=not for_reading, create=not for_reading)
  return ocp.CheckpointManager(checkpoint_dir(workdir), options=options)


def save(manager: ocp.CheckpointManager, step: int, state: Any) -> None:
  """Starts an (async) save of `state` labelled `step`; force so any step can be saved."""
  manager.save(step, args=ocp.args.StandardSave(state), force=True)


def restore(manager: ocp.CheckpointManager, template: Any, step: int | None = None) -> Any:
  """Restores step (default latest) into the structure, dtypes and shardings of `template`.

  `template` may hold arrays or jax.ShapeDtypeStruct leaves with shardings; None restores the
  tree as saved (a state's fields become a dict of nested dicts of arrays on one device).
  """
  step = manager.latest_step() if step is None else step
  if step is None:
    raise NoCheckpointError(f'no checkpoint in {manager.directory}')
  abstract = None if template is None else jax.tree.map(ocp.utils.to_shape_dtype_struct,
                                                         template)
  return manager.restore(step, args=ocp.args.StandardRestore(abstract))


def latest_step(workdir: str) -> int | None:
  """The step of workdir's newest complete checkpoint; None when it has none."""
  if not os.path.isdir(checkpoint_dir(workdir)):
    return None
  manager = make_manager(workdir, for_reading=True)
  step = manager.latest_step()
  manager.close()
  return step


def restore_latest(workdir: str, template: Any = None) -> tuple[Any, int]:
  """(state, step) of the newest checkpoint in workdir (template: as in `restore`); a clear
  error if there is none."""
  directory = checkpoint_dir(workdir)
  if not os.path.isdir(directory):
    raise NoCheckpointError(
        f'{workdir!r} has no checkpoints/ folder: train first with --mode=train '
        f'--workdir={workdir}, or point --workdir at a trained run.')
  manager = make_manager(workdir, for_reading=True)
  step = manager.latest_step()
  if step is None:
    raise NoCheckpointError(
        f'{directory} holds no complete checkpoint: train (longer) with --mode=train first.')
  state = restore(manager, template, step)
  manager.close()
  return state, step


def restore_latest_replicated(workdir: str, init_state) -> tuple[Any, int]:
  """(state, step) of the newest checkpoint in workdir, replicated on every device, in the tree
  and shapes init_state(key) would make (nothing is computed to get them)."""
  return restore_latest(workdir, replicated_template(init_state, sharding.make_mesh()))


def replicated_template(init_state, mesh) -> Any:
  """Shapes/dtypes of init_state(key), replicated on mesh, without computing anything."""
  replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=replicated),
                      jax.eval_shape(init_state, jax.random.key(0)))
