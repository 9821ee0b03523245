#!/usr/bin/env bash
# Applies schemas/NNN_name.sql in order and records each in schema_migrations.
#   ops/migrate.sh [mariadb client options...] DATABASE
# e.g. ops/migrate.sh --socket=var/mysql/mysql.sock -uroot kito
# Applying twice is a no-op. A migration that fails stops the run with its name and MariaDB's
# message; the ones before it stay applied. A landed migration is never edited: if an applied
# file's checksum no longer matches the recorded one, the runner refuses to go on.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 [mariadb options] DATABASE" >&2; exit 2; }
db=${*: -1}
opts=("${@:1:$#-1}")
sql() { mariadb "${opts[@]}" --batch --skip-column-names "$db" "$@"; }

sql -e "CREATE TABLE IF NOT EXISTS schema_migrations (
  version INT UNSIGNED NOT NULL PRIMARY KEY,
  name VARCHAR(200) NOT NULL,
  sha256 CHAR(64) NOT NULL,
  applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"

applied=0 skipped=0
for file in "$root"/schemas/[0-9][0-9][0-9]_*.sql; do
    [ -e "$file" ] || continue
    name=$(basename "$file")
    version=$((10#${name%%_*}))
    sum=$(sha256sum "$file" | cut -d' ' -f1)
    recorded=$(sql -e "SELECT sha256 FROM schema_migrations WHERE version=$version")
    if [ -n "$recorded" ]; then
        if [ "$recorded" != "$sum" ]; then
            echo "migration $name was edited after it was applied (recorded sha256 $recorded);" \
                "write a new migration instead" >&2
            exit 1
        fi
        skipped=$((skipped + 1))
        continue
    fi
    if ! out=$(sql <"$file" 2>&1); then
        echo "migration $name failed: $out" >&2
        exit 1
    fi
    sql -e "INSERT INTO schema_migrations (version, name, sha256) VALUES ($version, '$name', '$sum')"
    echo "applied $name" >&2
    applied=$((applied + 1))
done
echo "migrations: $applied applied, $skipped already present" >&2
