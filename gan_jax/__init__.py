"""gan_jax: GAN-based image editing and style transfer in JAX/Flax."""

__version__ = '0.1.0'
