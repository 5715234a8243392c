"""Latent-space editing: inversion of real images (inversion), semantic directions
(directions: InterFaceGAN, conditional, SeFa, GANSpace, attribute vectors) and edits with
strengths, layer ranges, masks and style mixing (edits)."""
