"""Metrics: pure functions over predictions, features and images."""
