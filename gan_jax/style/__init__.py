"""Style transfer: the feature networks its losses look through (feature_net), Gatys-style
optimisation and AdaIN."""
