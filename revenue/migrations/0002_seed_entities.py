from django.db import migrations

ENTITIES = [
    {"name": "A+ Enterprise LLC", "slug": "aplus-enterprise", "is_default": True, "aliases": ["A+ Enterprise", "aplus"]},
    {"name": "Legacy Unchained Inc", "slug": "legacy-unchained", "is_default": False, "aliases": ["Legacy Unchained"]},
]


def seed(apps, schema_editor):
    Entity = apps.get_model("revenue", "Entity")
    for row in ENTITIES:
        Entity.objects.get_or_create(slug=row["slug"], defaults=row)


class Migration(migrations.Migration):
    dependencies = [("revenue", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
