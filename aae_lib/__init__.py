"""Adversarial Autoencoders (Makhzani et al. 2016) on MNIST: models, priors and trainers."""

__version__ = "0.1.0"
