#!/bin/sh
# Container entrypoint: compose DATABASE_URL from its parts when the platform injects them
# separately (ECS pulls DB_USERNAME/DB_PASSWORD from Secrets Manager), then run the command.
set -eu

if [ -z "${DATABASE_URL:-}" ] && [ -n "${DB_HOST:-}" ]; then
    : "${DB_USERNAME:?DB_HOST is set, so DB_USERNAME is required}"
    : "${DB_PASSWORD:?DB_HOST is set, so DB_PASSWORD is required}"
    : "${DB_NAME:?DB_HOST is set, so DB_NAME is required}"
    # Percent-encode the credentials: a generated password may contain URL-reserved characters.
    DATABASE_URL="$(python -c '
import os
from urllib.parse import quote

env = os.environ
url = "postgresql+psycopg://{}:{}@{}:{}/{}".format(
    quote(env["DB_USERNAME"], safe=""),
    quote(env["DB_PASSWORD"], safe=""),
    env["DB_HOST"],
    env.get("DB_PORT") or "5432",
    quote(env["DB_NAME"], safe=""),
)
if env.get("DB_SSLMODE"):
    url += "?sslmode=" + quote(env["DB_SSLMODE"], safe="")
print(url)
')"
    export DATABASE_URL
fi

exec "$@"
