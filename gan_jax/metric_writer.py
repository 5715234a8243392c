"""Where training scalars go: the log (stdout), `workdir/metrics.jsonl` and TensorBoard."""

from __future__ import annotations

import json
import logging as std_logging
import os
from typing import Mapping

from absl import logging
import jax


class MetricWriter:
  """Writes scalars from process 0 only; `close()` flushes."""

  def __init__(self, workdir: str, tensorboard: bool = True):
    self._active = jax.process_index() == 0
    self._jsonl = None
    self._tb = None
    if not self._active:
      return
    os.makedirs(workdir, exist_ok=True)
    self._jsonl = open(os.path.join(workdir, 'metrics.jsonl'), 'a', encoding='utf-8')
    if tensorboard:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
      self._tb = SummaryWriter(os.path.join(workdir, 'tensorboard'))

  def write(self, step: int, scalars: Mapping[str, float], log: bool = True) -> None:
    if not self._active:
      return
    scalars = {k: float(v) for k, v in scalars.items()}
    self._jsonl.write(json.dumps({'step': step, **scalars}) + '\n')
    self._jsonl.flush()
    if self._tb is not None:
      for k, v in scalars.items():
        self._tb.add_scalar(k, v, step)
      self._tb.flush()
    if log:
      logging.info('step %d: %s', step, ', '.join(f'{k}={v:.4g}' for k, v in scalars.items()))

  def close(self) -> None:
    if self._jsonl is not None:
      self._jsonl.close()
    if self._tb is not None:
      self._tb.close()


class _OwnInfoOnly(std_logging.Filter):
  """Passes warnings from everyone, but INFO only from gan_jax and main.py."""

  def filter(self, record: std_logging.LogRecord) -> bool:
    if record.levelno >= std_logging.WARNING:
      return True
    path = record.pathname.replace(os.sep, '/')
    return '/gan_jax/' in path or path.endswith('/main.py')


def quiet_library_info_logs() -> None:
  """Drops other libraries' INFO chatter (Orbax logs every save in detail) from the log."""
  handler = logging.get_absl_handler()
  if not any(isinstance(f, _OwnInfoOnly) for f in handler.filters):
    handler.addFilter(_OwnInfoOnly())
