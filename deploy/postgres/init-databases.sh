#!/bin/sh
# Create the roles and databases of the stack. The postgres image runs the scripts of
# /docker-entrypoint-initdb.d only when its volume is new, so this runs once.
#
#   database             owner     contents
#   missions             missions  the application's read model and notification outbox
#   temporal             temporal  Temporal's persistence
#   temporal_visibility  temporal  Temporal's visibility store
#
# The passwords come from APP_DB_PASSWORD and TEMPORAL_DB_PASSWORD. Because this script does
# not run again, changing one later takes an ALTER ROLE.
set -eu

: "${APP_DB_PASSWORD:?set APP_DB_PASSWORD}"
: "${TEMPORAL_DB_PASSWORD:?set TEMPORAL_DB_PASSWORD}"

psql --username "$POSTGRES_USER" --dbname postgres --set ON_ERROR_STOP=1 \
    --set app_password="$APP_DB_PASSWORD" \
    --set temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE missions LOGIN PASSWORD :'app_password';
CREATE DATABASE missions OWNER missions;
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
\connect temporal_visibility
-- Temporal's visibility schema indexes with btree_gin; create it here as the superuser.
CREATE EXTENSION IF NOT EXISTS btree_gin;
SQL
