#!/bin/sh
# Saves from a live GeoNetwork 3.x or 4.x what `kartenn migrate geonetwork OUT` reads:
#   OUT/api/users.json               GET /srv/api/users
#   OUT/api/groups.json              GET /srv/api/groups
#   OUT/api/users/<id>-groups.json   GET /srv/api/users/{id}/groups
#   OUT/api/sharing/<uuid>.json      GET /srv/api/records/{uuid}/sharing
#   OUT/mef/<uuid>.mef               GET /srv/api/records/{uuid}/formatters/zip (MEF version 2)
# The records' uuids come from /srv/api/search/records/_search (4.x, Elasticsearch) or else /srv/eng/q (3.x).
# Users and sharing need an administrator: give USER and PASSWORD (sent with HTTP basic authentication, from a
# curl configuration file only this user can read, never on a command line).
#
# usage: export-geonetwork.sh URL [USER PASSWORD] OUT
#   e.g. export-geonetwork.sh https://example.org/geonetwork admin 'secret' geonetwork-export
# Needs curl, and jq or python3 to read JSON.
set -eu

usage() {
  echo "usage: export-geonetwork.sh URL [USER PASSWORD] OUT" >&2
  exit 2
}

fail() {
  echo "export-geonetwork.sh: $*" >&2
  exit 1
}

case $# in
  2) url=$1 user="" password="" out=$2 ;;
  4) url=$1 user=$2 password=$3 out=$4 ;;
  *) usage ;;
esac
case $url in
  http://* | https://*) url=${url%/} ;;
  *) usage ;;
esac
[ -n "$out" ] || usage
command -v curl >/dev/null || fail "curl is needed"
if command -v jq >/dev/null; then
  reader=jq
elif command -v python3 >/dev/null; then
  reader=python3
else
  fail "jq or python3 is needed to read GeoNetwork's JSON"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
umask 077
config=$work/curl.conf
jar=$work/cookies
: >"$config"
if [ -n "$user" ]; then
  # curl's configuration syntax: a quoted value with \ and " escaped
  credentials=$(printf '%s:%s' "$user" "$password" | sed 's/\\/\\\\/g; s/"/\\"/g')
  printf 'user = "%s"\n' "$credentials" >"$config"
fi
umask 022

# the XSRF token GeoNetwork 4 asks of POST requests (a cookie it sets on any answer)
curl -K "$config" -sS -o /dev/null -b "$jar" -c "$jar" "$url/srv/api/me" 2>/dev/null || true
token=$(awk '$6 == "XSRF-TOKEN" { print $7 }' "$jar" 2>/dev/null || true)

# get PATH FILE: the answer to GET URL/PATH saved in FILE, or the script stops
get() {
  curl -K "$config" -fsS -b "$jar" -c "$jar" -H "Accept: $3" -o "$2" "$url$1" || fail "cannot get $url$1"
}

# json FILTER FILE: the values a small query picks from a JSON file, one a line
json() {
  if [ "$reader" = jq ]; then
    jq -r "$1" "$2"
  else
    python3 - "$1" "$2" <<'EOF'
import json, sys
query, path = sys.argv[1], sys.argv[2]
data = json.load(open(path, encoding="utf-8"))
if query == ".[].id":
    values = [item["id"] for item in data]
elif query.startswith(".hits"):
    values = [hit.get("_source", {}).get("uuid") or hit["_id"] for hit in data["hits"]["hits"]]
else:
    found = data.get("metadata", [])
    values = [item["geonet:info"]["uuid"] for item in (found if isinstance(found, list) else [found])]
for value in values:
    print(value)
EOF
  fi
}

mkdir -p "$out/api/users" "$out/api/sharing" "$out/mef"
get /srv/api/users "$out/api/users.json" application/json
get /srv/api/groups "$out/api/groups.json" application/json
json '.[].id' "$out/api/users.json" >"$work/users"
while read -r id; do
  get "/srv/api/users/$id/groups" "$out/api/users/$id-groups.json" application/json
done <"$work/users"

# the records' uuids, a page of 1000 at a time (4.x), else all at once (3.x)
: >"$work/uuids"
from=0
while :; do
  body=$(printf '{"from": %d, "size": 1000, "_source": ["uuid"], "query": {"term": {"isTemplate": "n"}}}' "$from")
  if ! curl -K "$config" -fsS -b "$jar" -c "$jar" -X POST -H "Content-Type: application/json" \
    -H "Accept: application/json" -H "X-XSRF-TOKEN: $token" -d "$body" -o "$work/page" \
    "$url/srv/api/search/records/_search" 2>/dev/null; then
    [ "$from" -eq 0 ] || fail "cannot get $url/srv/api/search/records/_search (from $from)"
    get "/srv/eng/q?_content_type=json&fast=index&buildSummary=false&from=1&to=1000000" "$work/page" \
      application/json
    json '.metadata | if type == "array" then .[] else . end | .["geonet:info"].uuid' "$work/page" >>"$work/uuids"
    break
  fi
  json '.hits.hits[] | (._source.uuid // ._id)' "$work/page" >"$work/found"
  cat "$work/found" >>"$work/uuids"
  [ "$(wc -l <"$work/found")" -eq 1000 ] || break
  from=$((from + 1000))
done

count=0
while read -r uuid; do
  case $uuid in
    "" | */* | .*) echo "export-geonetwork.sh: record uuid '$uuid' skipped (not a file name)" >&2; continue ;;
  esac
  get "/srv/api/records/$uuid/sharing" "$out/api/sharing/$uuid.json" application/json
  get "/srv/api/records/$uuid/formatters/zip?withRelated=false" "$out/mef/$uuid.mef" application/zip
  count=$((count + 1))
done <"$work/uuids"
echo "saved $count records, $(wc -l <"$work/users" | tr -d ' ') users and their groups to $out"
