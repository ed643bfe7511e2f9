from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from vrm.runtime import runtime


class PageQuerySchema(ma.Schema):
    limit = fields.Integer(
        validate=validate.Range(min=1, max=100),
        metadata={"description": "Items per page (default 20, at most 100)"},
    )
    cursor = fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "next_cursor of the previous page"},
    )


def page_args(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "limit": args.get("limit") or runtime().settings["PAGE_SIZE_DEFAULT"],
        "cursor": args.get("cursor"),
    }


_pages: dict[type[ma.Schema], type[ma.Schema]] = {}


def page_of(item: type[ma.Schema]) -> type[ma.Schema]:
    """The ``{"data": [...], "next_cursor": ...}`` envelope for ``item``."""
    if item not in _pages:
        name = item.__name__.removesuffix("Schema") + "PageSchema"
        _pages[item] = type(
            name,
            (ma.Schema,),
            {
                "data": fields.List(fields.Nested(item)),
                "next_cursor": fields.String(allow_none=True),
            },
        )
    return _pages[item]
