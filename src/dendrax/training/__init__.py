"""Training: trainable parameters with sharing and bounds, transforms, losses, a fit loop,
saving fitted parameters, eFEL features to evaluate fits and recorded sweeps from NWB files
(see docs/training.md)."""
