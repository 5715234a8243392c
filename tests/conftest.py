"""Eight fake CPU devices for the whole test session (set before JAX runs anything), so every
test exercises the sharded path; tests that need one device build a one-device mesh."""

import os
import sys

import jax

jax.config.update('jax_num_cpu_devices', 8)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)
