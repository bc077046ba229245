"""pixelwise models: the registered names in sections (generators, discriminators) and the pretrained models
shipped inside the package (``pixelwise.from_pretrained("pixelwise/<name>")``). README's model table lists the
same names (tests/test_model_table.py)."""

import argparse

NONE_SHIPPED = "none shipped yet"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--names", action="store_true",
                        help="only the registered names, one per line (generators, then discriminators)")


def shipped() -> list[tuple[str, str]]:
    """(``pixelwise/<name>``, the registry name its config.json builds) for each model shipped in the package."""
    import json

    from pixelwise.hub import PACKAGED_ORG, PACKAGED_ROOT, packaged_names

    out = []
    for name in packaged_names():
        try:
            model = json.loads((PACKAGED_ROOT / name / "config.json").read_text()).get("model", "?")
        except (OSError, ValueError):
            model = "?"
        out.append((f"{PACKAGED_ORG}/{name}", str(model)))
    return out


def run(args: argparse.Namespace) -> int:
    from pixelwise.registry import get_entry, list_models

    sections = (("generators", "generator"), ("discriminators", "discriminator"))
    names = [n for _, kind in sections for n in list_models(kind)]
    if args.names:
        print("\n".join(names))
        return 0
    width = max(len(n) for n in names) + 2
    for title, kind in sections:
        print(f"{title}:")
        for name in list_models(kind):
            print(f"  {name:<{width}}{get_entry(name).description}")
    from pixelwise.deblur import DEFAULT_DEBLUR_MODEL

    print('pretrained (shipped in the package; pixelwise.from_pretrained("pixelwise/<name>")):')
    models = shipped()
    width = max([width, *(len(n) + 2 for n, _ in models)])
    for name, model in models:
        default = " (shipped; the default of pixelwise deblur)" if name == DEFAULT_DEBLUR_MODEL else " (shipped)"
        print(f"  {name:<{width}}{model}{default}")
    if not models:
        print(f"  {NONE_SHIPPED}")
    return 0
