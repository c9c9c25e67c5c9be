"""Real privilege separation: the app role appends to the ledger and its audit trails, nothing more.

See revenue/db_roles.py for what is granted and why. The migration runs as the owner
(`release` uses DATABASE_OWNER_URL). It grants the app role named by DATABASE_APP_ROLE;
with none configured (SQLite, single-role set-ups) it grants nothing but still installs
the triggers, and the ledger's `ledger_writable` bypass now works for the owner only.
"""

from django.conf import settings
from django.db import migrations

from revenue import db_roles


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    db_roles.append_only_install(connection)
    db_roles.app_role_grant(connection, settings.DATABASE_APP_ROLE)


def backwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    db_roles.app_role_revoke(connection, settings.DATABASE_APP_ROLE)
    db_roles.append_only_uninstall(connection)


class Migration(migrations.Migration):
    dependencies = [("revenue", "0008_import_jobs")]
    operations = [migrations.RunPython(forwards, backwards)]
