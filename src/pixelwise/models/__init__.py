"""Pure nn.Module architectures. Build them by name with :func:`pixelwise.create_model`."""
