"""Privilege separation in PostgreSQL: the owner migrates, the app role appends.

Two roles (README "Database roles"): the OWNER owns every table and runs migrations
(`release`); the APP role (web, worker, beat) owns nothing, may SELECT and INSERT the
append-only tables and nothing more there, and has ordinary read/write rights elsewhere.

Append-only, enforced by the database whatever the session sets:

* `revenue_events` (the ledger), `revenue_ledgerauditentry` (the ledger audit trail) and
  `revenue_reconciliationaction` (the reconciliation audit trail): the app role gets
  SELECT and INSERT only. Row triggers refuse UPDATE and DELETE; only the table owner may
  lift them with `SET branchberg.ledger_writable = 'on'` (what SAFE_MODE=false sets), so
  for the app role no setting lifts them. The audit trails allow one UPDATE: setting
  `actor_id` to NULL and nothing else, which is how Django's SET_NULL keeps an audit row
  when its user is deleted (the app role holds UPDATE on that column only).
* BEFORE TRUNCATE triggers on the same tables refuse every role but the table owner.
  Why the owner may: it can drop the trigger or the table anyway, so refusing it adds
  nothing, while Django's test framework flushes tables with TRUNCATE between
  transactional tests, as the owner. The roles exposed to the internet never own them.
* `revenue_daily_rollup` is derived from the ledger by triggers: the app role may read it
  and DELETE (an unused entity's CASCADE), never write it; the trigger functions run as
  their owner (SECURITY DEFINER, fixed search_path), so a ledger INSERT by the app role
  still updates it.

Tables created by later migrations get the ordinary grants through ALTER DEFAULT
PRIVILEGES; a new append-only table must be added to APPEND_ONLY_TABLES with a migration.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

LEDGER_TABLE = "revenue_events"
AUDIT_TABLES = ("revenue_ledgerauditentry", "revenue_reconciliationaction")
APPEND_ONLY_TABLES = (LEDGER_TABLE, *AUDIT_TABLES)
ROLLUP_TABLE = "revenue_daily_rollup"
ROLLUP_FUNCTIONS = (
    "revenue_daily_rollup_insert",
    "revenue_daily_rollup_delete",
    "revenue_daily_rollup_update",
    "revenue_daily_rollup_truncate",
)

# True when the current role may act as the table's owner (superusers included).
_IS_OWNER = "pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER')"
_OWNER_LIFTED = f"coalesce(current_setting('branchberg.ledger_writable', true), '') = 'on' AND {_IS_OWNER}"

TRIGGERS_CREATE = f"""
CREATE OR REPLACE FUNCTION revenue_events_append_only() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF {_OWNER_LIFTED} THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION 'revenue_events is append-only: % refused; record a reversal instead', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE OR REPLACE FUNCTION revenue_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- Deleting a user nulls actor_id (Django SET_NULL); the row keeps everything else.
    IF TG_OP = 'UPDATE' AND NEW.actor_id IS NULL
       AND (to_jsonb(NEW) - 'actor_id') = (to_jsonb(OLD) - 'actor_id') THEN
        RETURN NEW;
    END IF;
    IF {_OWNER_LIFTED} THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION '% is an append-only audit trail: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE OR REPLACE FUNCTION revenue_truncate_owner_only() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF {_IS_OWNER} THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: TRUNCATE refused for role %', TG_TABLE_NAME, current_user
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""

TRIGGERS_DROP = """
DROP FUNCTION IF EXISTS revenue_audit_append_only() CASCADE;
DROP FUNCTION IF EXISTS revenue_truncate_owner_only() CASCADE;
CREATE OR REPLACE FUNCTION revenue_events_append_only() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('branchberg.ledger_writable', true), '') = 'on' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION 'revenue_events is append-only (SAFE_MODE): % refused; record a reversal instead', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def _q(connection: BaseDatabaseWrapper, name: str) -> str:
    return connection.ops.quote_name(name)


def append_only_install(connection: BaseDatabaseWrapper) -> None:
    """Install the row and TRUNCATE triggers and run the rollup triggers as their owner (PostgreSQL)."""
    schema = _current_schema(connection)
    statements = [TRIGGERS_CREATE]
    for table in AUDIT_TABLES:
        statements.append(
            f"DROP TRIGGER IF EXISTS revenue_audit_append_only ON {_q(connection, table)};"
            f"CREATE TRIGGER revenue_audit_append_only BEFORE UPDATE OR DELETE ON {_q(connection, table)}"
            " FOR EACH ROW EXECUTE FUNCTION revenue_audit_append_only();"
        )
    for table in APPEND_ONLY_TABLES:
        statements.append(
            f"DROP TRIGGER IF EXISTS revenue_truncate_owner_only ON {_q(connection, table)};"
            f"CREATE TRIGGER revenue_truncate_owner_only BEFORE TRUNCATE ON {_q(connection, table)}"
            " FOR EACH STATEMENT EXECUTE FUNCTION revenue_truncate_owner_only();"
        )
    for function in ROLLUP_FUNCTIONS:
        statements.append(
            f"ALTER FUNCTION {_q(connection, function)}() SECURITY DEFINER"
            f" SET search_path = {_q(connection, schema)}, pg_temp;"
        )
    ledger = _q(connection, LEDGER_TABLE)
    statements.append(f"REVOKE UPDATE, DELETE, TRUNCATE ON {ledger} FROM PUBLIC;")
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def append_only_uninstall(connection: BaseDatabaseWrapper) -> None:
    """Undo append_only_install; the ledger row trigger goes back to migration 0003's."""
    with connection.cursor() as cursor:
        cursor.execute(TRIGGERS_DROP)
        for function in ROLLUP_FUNCTIONS:
            cursor.execute(f"ALTER FUNCTION {_q(connection, function)}() SECURITY INVOKER RESET search_path")


def _current_schema(connection: BaseDatabaseWrapper) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return cursor.fetchone()[0]


class AppRoleError(RuntimeError):
    """The configured app role cannot be given the app's rights safely."""


def app_role_grant(connection: BaseDatabaseWrapper, role: str) -> bool:
    """Grant the app role its rights on every table and sequence; False when there is nothing to do.

    Nothing to do: no role configured, or it is the role running the migration (single-role set-up).
    Idempotent: safe to run again after the role is created (`manage.py grant_app_role`).
    """
    if not role or connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, r.rolsuper, pg_has_role(r.oid, current_user, 'MEMBER')"
            " FROM pg_roles r WHERE r.rolname = %s",
            [role],
        )
        found = cursor.fetchone()
        if found is None:
            raise AppRoleError(
                f"DATABASE_APP_ROLE is '{role}' but no such PostgreSQL role exists: create it first "
                "(README, 'Database roles'), or leave DATABASE_APP_ROLE empty for a single-role set-up."
            )
        owner, superuser, member_of_owner = found
        if role == owner:
            return False
        if superuser or member_of_owner:
            raise AppRoleError(
                f"The app role '{role}' is a superuser or a member of the owner role '{owner}', so it would keep "
                "the owner's rights over the ledger: create it as a plain LOGIN role (README, 'Database roles')."
            )
        schema = _q(connection, _current_schema(connection))
        app = _q(connection, role)
        append_only = ", ".join(_q(connection, table) for table in APPEND_ONLY_TABLES)
        audit = ", ".join(_q(connection, table) for table in AUDIT_TABLES)
        for statement in (
            f"GRANT USAGE ON SCHEMA {schema} TO {app}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {app}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {app}",
            f"REVOKE ALL ON {append_only}, {_q(connection, ROLLUP_TABLE)} FROM PUBLIC, {app}",
            f"GRANT SELECT, INSERT ON {append_only} TO {app}",
            f"GRANT UPDATE (actor_id) ON {audit} TO {app}",
            f"GRANT SELECT, DELETE ON {_q(connection, ROLLUP_TABLE)} TO {app}",
        ):
            cursor.execute(statement)
    return True


def app_role_revoke(connection: BaseDatabaseWrapper, role: str) -> None:
    """Undo app_role_grant (migration backwards)."""
    if not role or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s AND rolname <> current_user", [role])
        if cursor.fetchone() is None:
            return
        schema = _q(connection, _current_schema(connection))
        app = _q(connection, role)
        for statement in (
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON TABLES FROM {app}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON SEQUENCES FROM {app}",
            f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {app}",
            f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {app}",
        ):
            cursor.execute(statement)
