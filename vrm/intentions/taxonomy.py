"""The shipped category taxonomy. A category is a path (``sports/cycling/bicycles``); every
node is a category, so an intention can be broad and a subscription can name a prefix."""

from __future__ import annotations

from typing import Any

from vrm.errors import ValidationFailed

# path segment -> (label, children)
_TREE: dict[str, Any] = {
    "sports": (
        "Sports and outdoors",
        {
            "cycling": (
                "Cycling",
                {
                    "bicycles": ("Bicycles", {}),
                    "e-bikes": ("Electric bicycles", {}),
                    "parts": ("Parts and accessories", {}),
                    "repair": ("Repair and servicing", {}),
                },
            ),
            "running": ("Running", {"shoes": ("Running shoes", {}), "apparel": ("Apparel", {})}),
            "camping": (
                "Camping and hiking",
                {
                    "tents": ("Tents", {}),
                    "backpacks": ("Backpacks", {}),
                    "sleeping-bags": ("Sleeping bags", {}),
                },
            ),
            "winter": ("Winter sports", {"skis": ("Skis", {}), "snowboards": ("Snowboards", {})}),
            "water": ("Water sports", {"kayaks": ("Kayaks and canoes", {}), "surf": ("Surf", {})}),
            "fitness": ("Fitness equipment", {}),
        },
    ),
    "electronics": (
        "Electronics",
        {
            "computers": (
                "Computers",
                {
                    "laptops": ("Laptops", {}),
                    "desktops": ("Desktops", {}),
                    "tablets": ("Tablets", {}),
                },
            ),
            "phones": (
                "Phones",
                {"smartphones": ("Smartphones", {}), "plans": ("Phone plans", {})},
            ),
            "audio": ("Audio", {"headphones": ("Headphones", {}), "speakers": ("Speakers", {})}),
            "cameras": ("Cameras", {}),
            "tv": ("Televisions", {}),
            "gaming": ("Gaming", {}),
        },
    ),
    "home": (
        "Home and garden",
        {
            "furniture": (
                "Furniture",
                {
                    "sofas": ("Sofas", {}),
                    "beds": ("Beds and mattresses", {}),
                    "tables": ("Tables and chairs", {}),
                },
            ),
            "appliances": (
                "Appliances",
                {
                    "kitchen": ("Kitchen appliances", {}),
                    "laundry": ("Washing machines and dryers", {}),
                },
            ),
            "garden": ("Garden", {"tools": ("Garden tools", {}), "plants": ("Plants", {})}),
            "diy": ("DIY and tools", {}),
            "energy": (
                "Energy",
                {
                    "electricity": ("Electricity supply", {}),
                    "solar": ("Solar panels", {}),
                    "heating": ("Heating and heat pumps", {}),
                },
            ),
        },
    ),
    "vehicles": (
        "Vehicles",
        {
            "cars": ("Cars", {"new": ("New cars", {}), "used": ("Used cars", {})}),
            "motorcycles": ("Motorcycles and scooters", {}),
            "rental": ("Vehicle rental", {}),
            "insurance": ("Vehicle insurance", {}),
            "maintenance": ("Maintenance and repair", {}),
        },
    ),
    "travel": (
        "Travel",
        {
            "flights": ("Flights", {}),
            "lodging": ("Hotels and lodging", {}),
            "trains": ("Trains and coaches", {}),
            "packages": ("Package holidays", {}),
        },
    ),
    "services": (
        "Services",
        {
            "finance": (
                "Finance",
                {
                    "banking": ("Banking", {}),
                    "loans": ("Loans and mortgages", {}),
                    "insurance": ("Insurance", {}),
                },
            ),
            "legal": ("Legal services", {}),
            "moving": ("Moving and removals", {}),
            "cleaning": ("Cleaning", {}),
            "trades": (
                "Tradespeople",
                {
                    "plumbing": ("Plumbing", {}),
                    "electrical": ("Electrical work", {}),
                    "building": ("Building and renovation", {}),
                },
            ),
            "education": ("Education and tutoring", {}),
            "health": ("Health and care", {}),
        },
    ),
    "fashion": (
        "Clothing and fashion",
        {
            "clothing": ("Clothing", {}),
            "shoes": ("Shoes", {}),
            "accessories": ("Bags and accessories", {}),
        },
    ),
    "food": (
        "Food and drink",
        {
            "groceries": ("Groceries", {}),
            "catering": ("Catering", {}),
            "wine": ("Wine and spirits", {}),
        },
    ),
    "family": (
        "Family and children",
        {
            "baby": ("Baby equipment", {}),
            "toys": ("Toys and games", {}),
            "childcare": ("Childcare", {}),
        },
    ),
    "culture": (
        "Books, music and culture",
        {
            "books": ("Books", {}),
            "music": ("Music and instruments", {}),
            "tickets": ("Event tickets", {}),
        },
    ),
    "property": (
        "Property",
        {
            "rent": ("Homes to rent", {}),
            "buy": ("Homes to buy", {}),
            "storage": ("Storage", {}),
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
        raise ValidationFailed(f"{path!r} is not a category of the taxonomy", field=field)
    return path


def lineage(path: str) -> list[str]:
    """The category and every broader one: ``a/b/c`` -> ``a``, ``a/b``, ``a/b/c``."""
    parts = path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def label_path(path: str) -> str:
    """Readable labels along the path: ``Sports and outdoors › Cycling › Bicycles``."""
    return " › ".join(CATEGORIES[p] for p in lineage(path))
