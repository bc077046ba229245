import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from pixelwise.registry import list_models

    for name in list_models():
        print(name)
    return 0
