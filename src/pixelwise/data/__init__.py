"""Datasets: files -> validated samples -> batches (integer label maps, images in [-1, 1])."""
