"""Training: trainable parameters with sharing and bounds, transforms, losses, a fit loop
and saving fitted parameters (see docs/training.md)."""
