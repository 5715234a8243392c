"""Timing of compiled train steps, shared by the step benchmarks (defines no flags)."""

import statistics
import time

import jax

from gan_jax.trainers import loop


def time_variant(train_step, mesh, state, batch, key, repeats):
  """Compiles a step; returns (state after the timed steps, compile seconds, median seconds
  per step over `repeats` steps after one untimed warm-up call)."""
  compiled, compile_s = loop.compile_step(train_step, mesh, state, batch, key)
  times = []
  for i in range(repeats + 1):
    start = time.perf_counter()
    state, metrics = compiled(state, batch, key)
    jax.block_until_ready(metrics)
    if i:   # the first call after compiling also pays one-off costs
      times.append(time.perf_counter() - start)
  return state, compile_s, statistics.median(times)
