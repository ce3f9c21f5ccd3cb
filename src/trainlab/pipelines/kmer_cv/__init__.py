"""Nested cross-validation of the multi-task k-mer classifier."""
