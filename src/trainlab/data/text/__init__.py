"""Text data: readers, splits, evidence spans, the synthetic generator, encoding."""
