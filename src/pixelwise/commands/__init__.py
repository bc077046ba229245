"""Thin CLI subcommands; see pixelwise.cli."""
