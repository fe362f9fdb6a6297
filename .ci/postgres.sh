# shellcheck shell=bash
# Sourced by .ci/run: start a local PostgreSQL for the server tests and export
# FIELDTECH_TEST_POSTGRES_URL. In CI (CI=true) PostgreSQL is installed from Debian's packages if
# missing; elsewhere an installed cluster is started when we may (root), otherwise nothing is
# exported and the PostgreSQL half of the server tests is skipped. Idempotent and quiet.
# Written for a shell with `set -euo pipefail`: every step that may fail is guarded.

_ft_pg_db="fieldtech_test"
_ft_pg_role="fieldtech"
_ft_pg_password="fieldtech"

_ft_pg_as_postgres() {
    if command -v runuser >/dev/null 2>&1; then
        runuser -u postgres -- "$@"
    else
        su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
}

_ft_pg_setup() {
    if [ -n "${FIELDTECH_TEST_POSTGRES_URL:-}" ]; then
        return 0  # the caller configured a server already
    fi
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        if [ "${CI:-}" != "true" ]; then
            return 0
        fi
        echo "postgres.sh: installing PostgreSQL" >&2
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq postgresql; } >/dev/null 2>&1; then
            echo "postgres.sh: could not install PostgreSQL" >&2
            return 1
        fi
    fi
    if [ "$(id -u)" != "0" ]; then
        echo "postgres.sh: not root, not starting PostgreSQL" >&2
        [ "${CI:-}" = "true" ] && return 1
        return 0
    fi
    local version
    version="$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)"
    if [ -z "$version" ]; then
        echo "postgres.sh: no PostgreSQL server binaries found" >&2
        return 1
    fi
    if ! pg_lsclusters -h 2>/dev/null | awk -v v="$version" '$1 == v && $2 == "main"' | grep -q .; then
        pg_createcluster "$version" main >/dev/null 2>&1 || return 1
    fi
    if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
        pg_ctlcluster "$version" main start >/dev/null 2>&1 || return 1
    fi
    local port
    port="$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')"
    local tries=0
    until pg_isready -q -h 127.0.0.1 -p "$port"; do
        tries=$((tries + 1))
        if [ "$tries" -gt 30 ]; then
            echo "postgres.sh: PostgreSQL did not come up" >&2
            return 1
        fi
        sleep 1
    done
    if ! _ft_pg_as_postgres psql -p "$port" -qtAc \
            "SELECT 1 FROM pg_roles WHERE rolname = '$_ft_pg_role'" | grep -q 1; then
        _ft_pg_as_postgres psql -p "$port" -qc \
            "CREATE ROLE $_ft_pg_role LOGIN CREATEDB PASSWORD '$_ft_pg_password'" >/dev/null || return 1
    fi
    if ! _ft_pg_as_postgres psql -p "$port" -qtAc \
            "SELECT 1 FROM pg_database WHERE datname = '$_ft_pg_db'" | grep -q 1; then
        _ft_pg_as_postgres createdb -p "$port" -O "$_ft_pg_role" "$_ft_pg_db" >/dev/null || return 1
    fi
    export FIELDTECH_TEST_POSTGRES_URL="postgresql+psycopg://$_ft_pg_role:$_ft_pg_password@127.0.0.1:$port/$_ft_pg_db"
}

if ! _ft_pg_setup; then
    if [ "${CI:-}" = "true" ]; then
        echo "postgres.sh: PostgreSQL is required in CI" >&2
        return 1 2>/dev/null || exit 1
    fi
fi
unset -f _ft_pg_setup _ft_pg_as_postgres
unset _ft_pg_db _ft_pg_role _ft_pg_password
