#!/bin/sh
# kwire image entrypoint: KWIRE_* environment variables -> server.properties,
# then exec the command (by default `kwire serve --config <that file>`).
#
# Names map as Apache Kafka's image maps KAFKA_* (its docker/configure):
# drop the prefix, lower-case, then `___` -> `-`, `__` -> `_`, `_` -> `.`:
#
#     KWIRE_LOG_DIRS=/data                     log.dirs=/data
#     KWIRE_GROUP_INITIAL_REBALANCE_DELAY_MS=0 group.initial.rebalance.delay.ms=0
#     KWIRE_LISTENER_SECURITY_PROTOCOL_MAP=... listener.security.protocol.map=...
#     KWIRE_KWIRE_ADMIN_LISTENER=...           kwire.admin.listener=...
#     KWIRE_SOME__UNDERSCORE___DASH=x          some_underscore-dash=x
#
# Not configuration keys (read by this script, not written to the file):
#     KWIRE_CONFIG_FILE  where to write the file (default /etc/kwire/server.properties)
#     KWIRE_DEV          "true": add --dev to `kwire serve` (test and CI defaults)
#     KWIRE_LOG_LEVEL    passed as --log-level to `kwire serve`
#
# Only single-line values are supported (as in Kafka's image).
set -eu

config="${KWIRE_CONFIG_FILE:-/etc/kwire/server.properties}"
mkdir -p "$(dirname "$config")"
tmp="$config.tmp.$$"
{
    echo "# written by the kwire image entrypoint from KWIRE_* environment variables"
    env | LC_ALL=C sort | while IFS='=' read -r name value; do
        case "$name" in
            KWIRE_CONFIG_FILE|KWIRE_DEV|KWIRE_LOG_LEVEL) continue ;;
            KWIRE_?*) ;;
            *) continue ;;
        esac
        key=$(printf '%s' "${name#KWIRE_}" | tr 'A-Z' 'a-z' | sed -e 's/___/-/g' -e 's/__/@/g' -e 's/_/./g' -e 's/@/_/g')
        printf '%s=%s\n' "$key" "$value"
    done
} > "$tmp"
mv "$tmp" "$config"

if [ "$#" -eq 0 ]; then
    set -- kwire serve --config "$config"
fi
if [ "$#" -ge 2 ] && [ "$1" = kwire ] && [ "$2" = serve ]; then
    shift 2
    if [ -n "${KWIRE_LOG_LEVEL:-}" ]; then
        set -- --log-level "$KWIRE_LOG_LEVEL" "$@"
    fi
    if [ "${KWIRE_DEV:-false}" = true ]; then
        set -- --dev "$@"
    fi
    set -- kwire serve "$@"
fi
exec "$@"
