"""Metrics and the feature networks they share."""
