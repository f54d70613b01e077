"""Metric attributions: what each metric measures, where an event came from, and the reports."""
