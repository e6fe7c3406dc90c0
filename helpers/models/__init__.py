"""Models and their training: the training loop, text encoders, image classifiers and their
fine-tuning. Imports ``helpers.core`` and ``helpers.data``."""
