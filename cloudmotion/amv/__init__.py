"""Atmospheric motion vectors: cloud probability, cloud-top temperature, height, parallax and the AMV columns."""
