#!/bin/sh
# System packages the map benchmark needs besides the test ones (scripts/install-test-deps.sh):
# MapServer from Debian (mapscript for the persistent WSGI peer, mapserv for reference).
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends mapserver-bin cgi-mapserver python3-mapscript python3-venv
