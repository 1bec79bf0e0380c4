#!/bin/sh
# Makes the cluster in PGDATA on first start, then runs postgres in the foreground with the
# arguments given (`-c name=value` settings). Sockets in /tmp: the root filesystem is read-only.
set -eu
PGDATA=${PGDATA:-/data/pgdata}
export PGDATA
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  auth=trust
  pwfile=
  if [ -n "${POSTGRES_PASSWORD:-}" ]; then
    auth=scram-sha-256
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  fi
  initdb -D "$PGDATA" -U postgres --locale=C --encoding=UTF8 --auth-local=trust --auth-host="$auth" \
    ${pwfile:+--pwfile="$pwfile"} >/dev/null
  [ -z "$pwfile" ] || rm -f "$pwfile"
  printf 'host all all 0.0.0.0/0 %s\nhost all all ::/0 %s\n' "$auth" "$auth" >>"$PGDATA/pg_hba.conf"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp "$@"
