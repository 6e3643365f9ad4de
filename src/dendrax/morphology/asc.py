"""Neurolucida ASC reader (placeholder until written)."""


def read_asc(path):
    raise NotImplementedError("ASC import is not written yet")
