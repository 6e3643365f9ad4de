"""Numerics tests run in float64 with rank promotion disallowed."""

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
