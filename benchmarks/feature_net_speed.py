"""Speed of the style feature networks: forward, and forward + backward of a Gatys-style loss.

  python benchmarks/feature_net_speed.py [--sizes=256,512] [--repeats=5]

For each network of gan_jax.style.feature_net without weight files ('random_multiscale', and
'vgg19_random', whose cost is exactly VGG19's) and each size, batch 1:
  forward    features at the network's content + style layers, and their Gram matrices;
  fwd+bwd    the gradient w.r.t. the image of  sum_style ||G(F) - G*||^2 + sum_content ||F - F*||^2
             (what one Gatys optimisation step computes).
Median of --repeats calls after one compile call, wall clock and process CPU time (CPU time, summed
over threads, is the steadier number on a shared machine). The row 'random_multiscale (autodiff
conv)' replaces feature_net.conv_few_inputs by the plain convolution, whose input gradient XLA:CPU
computes as a slow transposed convolution into 3 channels.
"""

import os
import statistics
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.style import feature_net

_SIZES = flags.DEFINE_list('sizes', ['256', '512'], 'Image sizes (square), px.')
_REPEATS = flags.DEFINE_integer('repeats', 5, 'Timed calls per measurement (median reported).')


def gram(maps):
  b, h, w, c = maps.shape
  flat = maps.reshape(b, h * w, c)
  return jnp.einsum('bnc,bnd->bcd', flat, flat) / (h * w)


def make_programs(net):
  layers = tuple(dict.fromkeys(net.content_layers + net.style_layers))

  def forward(params, images):
    feats = net.features(params, images, layers)
    return ({k: feats[k] for k in net.content_layers},
            {k: gram(feats[k]) for k in net.style_layers})

  def loss(images, params, content_targets, style_targets):
    contents, grams = forward(params, images)
    return (sum(jnp.sum(jnp.square(contents[k] - v)) for k, v in content_targets.items())
            + sum(jnp.sum(jnp.square(grams[k] - v)) for k, v in style_targets.items()))

  return jax.jit(forward), jax.jit(jax.grad(loss))


def median_ms(fn, *args, repeats):
  jax.block_until_ready(fn(*args))   # compile
  wall, cpu = [], []
  for _ in range(repeats):
    w0, c0 = time.perf_counter(), time.process_time()
    jax.block_until_ready(fn(*args))
    wall.append(time.perf_counter() - w0)
    cpu.append(time.process_time() - c0)
  return 1e3 * statistics.median(wall), 1e3 * statistics.median(cpu)


def _plain_conv(x, kernel):
  return jax.lax.conv_general_dilated(x, kernel, (1, 1), 'VALID',
                                      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


def main(argv):
  del argv
  print(f'JAX {jax.__version__} on {jax.device_count()} x {jax.default_backend()} '
        f'({jax.devices()[0].device_kind}), {os.cpu_count()} CPU cores, load average '
        f'{os.getloadavg()[0]:.1f} at start')
  rows = [('random_multiscale', feature_net.load_feature_net('random_multiscale'), None),
          ('random_multiscale (autodiff conv)', feature_net.load_feature_net('random_multiscale'),
           _plain_conv),
          ('vgg19_random (= VGG19, avg pool)', feature_net.load_feature_net('vgg19_random'), None)]
  print('| network | size | forward ms (wall / CPU) | fwd+bwd ms (wall / CPU) |')
  print('|---|---|---|---|')
  fast_conv = feature_net.conv_few_inputs
  for label, net, conv in rows:
    feature_net.conv_few_inputs = conv or fast_conv
    try:
      forward, grad = make_programs(net)
      for size in map(int, _SIZES.value):
        rng = np.random.default_rng(size)
        content, image = (jnp.asarray(rng.uniform(-1, 1, (1, size, size, 3)), jnp.float32)
                          for _ in range(2))
        targets = forward(net.params, content)
        fw = median_ms(forward, net.params, image, repeats=_REPEATS.value)
        fb = median_ms(grad, image, net.params, *targets, repeats=_REPEATS.value)
        print(f'| {label} | {size} | {fw[0]:.0f} / {fw[1]:.0f} | {fb[0]:.0f} / {fb[1]:.0f} |',
              flush=True)
    finally:
      feature_net.conv_few_inputs = fast_conv
  print(f'load average {os.getloadavg()[0]:.1f} at the end')


if __name__ == '__main__':
  app.run(main)
