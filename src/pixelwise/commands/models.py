"""pixelwise models: the registered names in sections (generators, discriminators) and the pretrained models
shipped inside the package (``pixelwise.from_pretrained("pixelwise/<name>")``); ``--details NAME``: a model's
card in short (parameters, training budget, held-out gains). README's model table lists the same names
(tests/test_model_table.py)."""

import argparse
from pathlib import Path

NONE_SHIPPED = "none shipped yet"
SHIPPED_TITLE = 'pretrained (shipped in the package; pixelwise.from_pretrained("pixelwise/<name>")):'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--names", action="store_true",
                        help="names only, one per line: the registered names (generators, then discriminators), "
                             "then the shipped models as pixelwise/<name>")
    parser.add_argument("--shipped", action="store_true",
                        help="only the models shipped in the package (with --names: their names only)")
    parser.add_argument("--details", default=None, metavar="NAME",
                        help="a model's card in short: parameters, training budget and data, held-out gains over "
                             "the baseline; NAME: a shipped model (pixelwise/<name> or <name>), a model folder "
                             "(or checkpoint / run dir) or a registry name")


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


def shipped_origin(name: str) -> str:
    """How a shipped model is labelled: "shipped", and "the default of pixelwise deblur" for that one."""
    from pixelwise.deblur import DEFAULT_DEBLUR_MODEL

    return "shipped; the default of `pixelwise deblur`" if name == DEFAULT_DEBLUR_MODEL else "shipped"


def details(name: str) -> str:
    """The card summary of ``name`` (see ``--details``); a PixelwiseError line when it names no model."""
    from pixelwise.errors import PixelwiseError
    from pixelwise.hub import PACKAGED_ORG, PACKAGED_ROOT, packaged_names
    from pixelwise.models.card import CARD_NAME, CardSummary, read_card, summary_markdown

    short = name.removeprefix(f"{PACKAGED_ORG}/")
    if short in packaged_names() and not Path(name).exists():
        folder, title = PACKAGED_ROOT / short, f"{PACKAGED_ORG}/{short}"
        card = read_card((folder / CARD_NAME).read_text(encoding="utf-8")) if (folder / CARD_NAME).is_file() \
            else CardSummary()
        return summary_markdown(card, title, shipped_origin(title)) + f"\n\nThe whole card: {folder / CARD_NAME}"
    from pixelwise.registry import get_entry, list_models

    if name in list_models(None) and not Path(name).exists():
        import pixelwise

        count = sum(p.numel() for p in pixelwise.create_model(name).parameters())
        return (f"**{name}**: a registered architecture, {count:,} parameters with its default config, untrained "
                f"(no card): {get_entry(name).description}. Trained models: `pixelwise models --shipped`.")
    from pixelwise.models.io import load_generator, resolve_generator

    try:
        directory, _ = resolve_generator(name)
    except PixelwiseError as exc:
        shipped_names = ", ".join(n for n, _ in shipped()) or NONE_SHIPPED
        raise PixelwiseError(f"--details {name}: not a shipped model ({shipped_names}), a registry name "
                             f"(`pixelwise models --names`) or a model folder ({exc})") from None
    count = sum(p.numel() for p in load_generator(directory).parameters())
    from pixelwise.rundir import STEP_DIR

    step = STEP_DIR.match(directory.name)
    origin = (f"trained {int(step.group(1))} steps, " if step else "") + f"from {directory}"
    card_file = directory / CARD_NAME
    card = read_card(card_file.read_text(encoding="utf-8")) if card_file.is_file() else CardSummary()
    where = f"\n\nThe whole card: {card_file}" if card_file.is_file() else f"\n\n{directory} has no {CARD_NAME}."
    return summary_markdown(card, name, origin, parameters=count) + where


def run(args: argparse.Namespace) -> int:
    from pixelwise.registry import get_entry, list_models

    if args.details:
        print(details(args.details))
        return 0
    models = shipped()
    sections = (("generators", "generator"), ("discriminators", "discriminator"))
    names = [] if args.shipped else [n for _, kind in sections for n in list_models(kind)]
    if args.names:
        print("\n".join([*names, *(n for n, _ in models)]))
        return 0
    width = max([0, *(len(n) + 2 for n in names)])
    if not args.shipped:
        for title, kind in sections:
            print(f"{title}:")
            for name in list_models(kind):
                print(f"  {name:<{width}}{get_entry(name).description}")
    print(SHIPPED_TITLE)
    width = max([width, *(len(n) + 2 for n, _ in models)])
    for name, model in models:
        print(f"  {name:<{width}}{model} ({shipped_origin(name).replace('`', '')})")
    if not models:
        print(f"  {NONE_SHIPPED}")
    else:
        print("  (`pixelwise models --details NAME`: parameters, training budget and held-out results)")
    return 0
