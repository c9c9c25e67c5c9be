"""The entities every installation starts with (also written by migration 0002)."""

ENTITIES = [
    {
        "name": "A+ Enterprise LLC",
        "slug": "aplus-enterprise",
        "is_default": True,
        "aliases": ["A+ Enterprise", "aplus"],
    },
    {"name": "Legacy Unchained Inc", "slug": "legacy-unchained", "is_default": False, "aliases": ["Legacy Unchained"]},
]
