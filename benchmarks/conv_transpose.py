"""nn.ConvTranspose vs the exact sub-pixel formulation (layers.UpConv2x): forward+backward time.

  python benchmarks/conv_transpose.py [--batch=16] [--repeats=5]

Both compute a 4x4/stride-2/padding-1 transposed convolution (the StarGAN/DCGAN up-sampling);
the script first checks that they give the same outputs and gradients, then times
value_and_grad w.r.t. the kernel and the input, on the shapes of StarGAN's two up-sampling layers.
"""

import statistics
import time

from absl import app
from absl import flags
import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.models import layers

_BATCH = flags.DEFINE_integer('batch', 16, 'Batch size.')
_REPEATS = flags.DEFINE_integer('repeats', 5, 'Timed repetitions (median reported).')

# (name, input H=W, Cin, Cout) of StarGAN's up-sampling at 128 px (conv_dim 64) and 64 px.
SHAPES = (('stargan128_up1', 32, 256, 128), ('stargan128_up2', 64, 128, 64),
          ('stargan64_up1', 16, 256, 128), ('stargan64_up2', 32, 128, 64))


def flax_conv_transpose(kernel, x):
  """nn.ConvTranspose with PyTorch semantics: flipped kernel, padding k - 1 - p = 2."""
  module = nn.ConvTranspose(kernel.shape[-1], (4, 4), strides=(2, 2), padding=((2, 2), (2, 2)),
                            use_bias=False, transpose_kernel=False)
  return module.apply({'params': {'kernel': kernel[::-1, ::-1]}}, x)


def subpixel(kernel, x):
  return layers.UpConv2x(kernel.shape[-1], use_bias=False).apply({'params': {'kernel': kernel}}, x)


def loss_and_grads(fn):
  return jax.jit(jax.value_and_grad(lambda k, x: jnp.mean(jnp.square(fn(k, x))), argnums=(0, 1)))


def median_seconds(fn, *args, repeats):
  jax.block_until_ready(fn(*args))   # compile + warm up
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def main(argv):
  del argv
  print(f'JAX {jax.__version__}, {jax.devices()[0].device_kind}, batch {_BATCH.value}')
  print('| layer | input | nn.ConvTranspose fwd+bwd ms | UpConv2x fwd+bwd ms | speed-up | max |diff| |')
  print('|---|---|---|---|---|---|')
  for name, size, cin, cout in SHAPES:
    x = jax.random.normal(jax.random.key(0), (_BATCH.value, size, size, cin))
    kernel = jax.random.normal(jax.random.key(1), (4, 4, cin, cout)) * 0.05
    slow, fast = loss_and_grads(flax_conv_transpose), loss_and_grads(subpixel)
    (_, g_slow), (_, g_fast) = slow(kernel, x), fast(kernel, x)
    diff = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(g_slow, g_fast))
    diff = max(diff, float(jnp.max(jnp.abs(flax_conv_transpose(kernel, x) - subpixel(kernel, x)))))
    t_slow = median_seconds(slow, kernel, x, repeats=_REPEATS.value)
    t_fast = median_seconds(fast, kernel, x, repeats=_REPEATS.value)
    print(f'| {name} | {size}x{size}x{cin} | {1e3 * t_slow:.1f} | {1e3 * t_fast:.1f} | '
          f'{t_slow / t_fast:.1f}x | {diff:.1e} |')


if __name__ == '__main__':
  app.run(main)
