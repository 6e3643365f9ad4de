"""Training: trainable parameters with sharing and bounds, transforms, losses, a fit loop,
saving fitted parameters and eFEL features to evaluate fits (see docs/training.md)."""
