"""The shipped category taxonomy. A category is a path (``sports/cycling/bicycles``); every
node is a category, so an intention can be broad and a subscription can name a prefix."""

from __future__ import annotations

from typing import Any

from vrm.errors import ValidationFailed
from vrm.i18n import N_, gettext

# path segment -> (label, children); the labels are marked for the catalog and translated
# where a page shows them (the APIs list them in English)
_TREE: dict[str, Any] = {
    "sports": (
        N_("Sports and outdoors"),
        {
            "cycling": (
                N_("Cycling"),
                {
                    "bicycles": (N_("Bicycles"), {}),
                    "e-bikes": (N_("Electric bicycles"), {}),
                    "parts": (N_("Parts and accessories"), {}),
                    "repair": (N_("Repair and servicing"), {}),
                },
            ),
            "running": (
                N_("Running"),
                {"shoes": (N_("Running shoes"), {}), "apparel": (N_("Apparel"), {})},
            ),
            "camping": (
                N_("Camping and hiking"),
                {
                    "tents": (N_("Tents"), {}),
                    "backpacks": (N_("Backpacks"), {}),
                    "sleeping-bags": (N_("Sleeping bags"), {}),
                },
            ),
            "winter": (
                N_("Winter sports"),
                {"skis": (N_("Skis"), {}), "snowboards": (N_("Snowboards"), {})},
            ),
            "water": (
                N_("Water sports"),
                {"kayaks": (N_("Kayaks and canoes"), {}), "surf": (N_("Surf"), {})},
            ),
            "fitness": (N_("Fitness equipment"), {}),
        },
    ),
    "electronics": (
        N_("Electronics"),
        {
            "computers": (
                N_("Computers"),
                {
                    "laptops": (N_("Laptops"), {}),
                    "desktops": (N_("Desktops"), {}),
                    "tablets": (N_("Tablets"), {}),
                },
            ),
            "phones": (
                N_("Phones"),
                {"smartphones": (N_("Smartphones"), {}), "plans": (N_("Phone plans"), {})},
            ),
            "audio": (
                N_("Audio"),
                {"headphones": (N_("Headphones"), {}), "speakers": (N_("Speakers"), {})},
            ),
            "cameras": (N_("Cameras"), {}),
            "tv": (N_("Televisions"), {}),
            "gaming": (N_("Gaming"), {}),
        },
    ),
    "home": (
        N_("Home and garden"),
        {
            "furniture": (
                N_("Furniture"),
                {
                    "sofas": (N_("Sofas"), {}),
                    "beds": (N_("Beds and mattresses"), {}),
                    "tables": (N_("Tables and chairs"), {}),
                },
            ),
            "appliances": (
                N_("Appliances"),
                {
                    "kitchen": (N_("Kitchen appliances"), {}),
                    "laundry": (N_("Washing machines and dryers"), {}),
                },
            ),
            "garden": (
                N_("Garden"),
                {"tools": (N_("Garden tools"), {}), "plants": (N_("Plants"), {})},
            ),
            "diy": (N_("DIY and tools"), {}),
            "energy": (
                N_("Energy"),
                {
                    "electricity": (N_("Electricity supply"), {}),
                    "solar": (N_("Solar panels"), {}),
                    "heating": (N_("Heating and heat pumps"), {}),
                },
            ),
        },
    ),
    "vehicles": (
        N_("Vehicles"),
        {
            "cars": (N_("Cars"), {"new": (N_("New cars"), {}), "used": (N_("Used cars"), {})}),
            "motorcycles": (N_("Motorcycles and scooters"), {}),
            "rental": (N_("Vehicle rental"), {}),
            "insurance": (N_("Vehicle insurance"), {}),
            "maintenance": (N_("Maintenance and repair"), {}),
        },
    ),
    "travel": (
        N_("Travel"),
        {
            "flights": (N_("Flights"), {}),
            "lodging": (N_("Hotels and lodging"), {}),
            "trains": (N_("Trains and coaches"), {}),
            "packages": (N_("Package holidays"), {}),
        },
    ),
    "services": (
        N_("Services"),
        {
            "finance": (
                N_("Finance"),
                {
                    "banking": (N_("Banking"), {}),
                    "loans": (N_("Loans and mortgages"), {}),
                    "insurance": (N_("Insurance"), {}),
                },
            ),
            "legal": (N_("Legal services"), {}),
            "moving": (N_("Moving and removals"), {}),
            "cleaning": (N_("Cleaning"), {}),
            "trades": (
                N_("Tradespeople"),
                {
                    "plumbing": (N_("Plumbing"), {}),
                    "electrical": (N_("Electrical work"), {}),
                    "building": (N_("Building and renovation"), {}),
                },
            ),
            "education": (N_("Education and tutoring"), {}),
            "health": (N_("Health and care"), {}),
        },
    ),
    "fashion": (
        N_("Clothing and fashion"),
        {
            "clothing": (N_("Clothing"), {}),
            "shoes": (N_("Shoes"), {}),
            "accessories": (N_("Bags and accessories"), {}),
        },
    ),
    "food": (
        N_("Food and drink"),
        {
            "groceries": (N_("Groceries"), {}),
            "catering": (N_("Catering"), {}),
            "wine": (N_("Wine and spirits"), {}),
        },
    ),
    "family": (
        N_("Family and children"),
        {
            "baby": (N_("Baby equipment"), {}),
            "toys": (N_("Toys and games"), {}),
            "childcare": (N_("Childcare"), {}),
        },
    ),
    "culture": (
        N_("Books, music and culture"),
        {
            "books": (N_("Books"), {}),
            "music": (N_("Music and instruments"), {}),
            "tickets": (N_("Event tickets"), {}),
        },
    ),
    "property": (
        N_("Property"),
        {
            "rent": (N_("Homes to rent"), {}),
            "buy": (N_("Homes to buy"), {}),
            "storage": (N_("Storage"), {}),
        },
    ),
}


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    paths: dict[str, str] = {}
    for segment, (label, children) in tree.items():
        path = f"{prefix}{segment}"
        paths[path] = label
        paths.update(_flatten(children, f"{path}/"))
    return paths


# Every category path -> its label, parents before children.
CATEGORIES: dict[str, str] = _flatten(_TREE)


# The taxonomy as both APIs list it.
LISTING: list[dict[str, str]] = [{"path": p, "label": label} for p, label in CATEGORIES.items()]


def check_category(path: str, *, field: str = "category") -> str:
    if path not in CATEGORIES:
        raise ValidationFailed(
            gettext("%(path)s is not a category of the taxonomy", path=repr(path)), field=field
        )
    return path


def lineage(path: str) -> list[str]:
    """The category and every broader one: ``a/b/c`` -> ``a``, ``a/b``, ``a/b/c``."""
    parts = path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def label_path(path: str) -> str:
    """Readable labels along the path: ``Sports and outdoors › Cycling › Bicycles``."""
    return " › ".join(CATEGORIES[p] for p in lineage(path))
