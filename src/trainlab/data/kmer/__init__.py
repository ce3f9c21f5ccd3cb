"""k-mer matrices of metagenomic samples: MUSET/kmtricks readers, metadata, folds, generator."""
