"""One data-parallel mesh over every device: batches split on 'data', state replicated."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from gan_jax.errors import ConfigError
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = 'data'


def make_mesh(devices: list[jax.Device] | None = None) -> Mesh:
  """A 1-D mesh named 'data' over `devices` (default: all devices of all processes)."""
  devices = jax.devices() if devices is None else devices
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis split over 'data'; other axes whole."""
  return NamedSharding(mesh, P(DATA_AXIS))


def check_batch_size(global_batch_size: int, mesh: Mesh) -> int:
  """Returns the per-process batch size; raises ValueError with a fix if it does not divide."""
  num_devices = mesh.devices.size
  if global_batch_size % num_devices:
    raise ConfigError(
        f'config.batch_size={global_batch_size} must be divisible by the number of devices '
        f'({num_devices}); set --config.batch_size to a multiple of {num_devices}.')
  return global_batch_size // jax.process_count()


def process_batch_slice(global_batch_size: int) -> slice:
  """The rows of each global batch that this process loads (its share, contiguous)."""
  per_process = global_batch_size // jax.process_count()
  start = jax.process_index() * per_process
  return slice(start, start + per_process)


def global_batch(local_batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
  """Assembles each process's rows into global arrays sharded over 'data'."""
  sharding = batch_sharded(mesh)
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), local_batch)


def replicate(tree: Any, mesh: Mesh) -> Any:
  """Places every leaf of `tree` replicated on all devices of the mesh."""
  return jax.device_put(tree, replicated(mesh))
