"""Converts pytorch-fid's Inception weights (.pth) to an .npz that gan_jax reads without torch.

  python scripts/convert_inception_weights.py pt_inception-2015-12-05-6726825d.pth inception.npz

gan_jax also reads the .pth directly; the .npz is for places where a plain array file is easier
to ship (a GCS bucket, a Colab drive). It keeps the PyTorch names and the source file's sha256,
so reports can still say the standard weights were used. Checks the architecture first.
"""

import sys

import numpy as np

from gan_jax import torch_weights
from gan_jax.metrics import features
from gan_jax.models import inception


def main(argv):
  if len(argv) != 3:
    sys.exit(__doc__)
  state = torch_weights.load_state_dict(argv[1])
  inception.inception_variables_from_torch(state)          # raises if it is not the FID network
  digest = features.file_sha256(argv[1], length=64)
  np.savez(argv[2], **{k: np.asarray(v) for k, v in state.items()},
           **{features.SOURCE_HASH_KEY: np.asarray(digest)})
  print(f'wrote {argv[2]}: {len(state)} arrays from {argv[1]} (sha256 {digest[:12]})')


if __name__ == '__main__':
  main(sys.argv)
