"""Latent-space editing: inversion of real images, (later) semantic directions and edits."""
