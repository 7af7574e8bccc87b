#!/bin/sh
# Create or upgrade the schemas of Temporal's two PostgreSQL databases, then exit.
# Safe to run on every start: setup-schema fails once the base schema exists, which this
# script accepts, and update-schema applies only the versions that are missing.
set -eu

: "${POSTGRES_SEEDS:?set POSTGRES_SEEDS}"
: "${POSTGRES_USER:?set POSTGRES_USER}"
: "${POSTGRES_PWD:?set POSTGRES_PWD}"
DB_PORT="${DB_PORT:-5432}"
SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12
# temporal-sql-tool reads the password from SQL_PASSWORD.
export SQL_PASSWORD="$POSTGRES_PWD"

sql_tool() {
    temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" \
        -u "$POSTGRES_USER" "$@"
}

setup_database() {
    database="$1"
    versioned="$2"
    output="$(mktemp)"
    if sql_tool --db "$database" setup-schema -v 0.0 >"$output" 2>&1; then
        echo "$database: base schema created"
    elif grep -qi 'schema_version.*already exists' "$output"; then
        echo "$database: base schema already present"
    else
        cat "$output" >&2
        echo "$database: setup-schema failed" >&2
        rm -f "$output"
        exit 1
    fi
    rm -f "$output"
    sql_tool --db "$database" update-schema -d "$SCHEMA_ROOT/$versioned/versioned"
    echo "$database: schema up to date"
}

setup_database "${DBNAME:-temporal}" temporal
setup_database "${VISIBILITY_DBNAME:-temporal_visibility}" visibility
