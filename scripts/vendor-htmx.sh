#!/bin/sh
# Vendors htmx for the web console (server/console/static): `npm pack` the
# pinned npm package, take dist/htmx.min.js, check it against the recorded
# sha256 (server/console/static/htmx.min.js.sha256; TestHtmxPinned checks
# the committed file against it too). Nothing of Node runs at run time.
# To move to another version: set VERSION, run with UPDATE=1, review the
# diff, and update htmxVersion in server/console/console_test.go.
set -eu
VERSION=${VERSION:-2.0.11}
cd "$(dirname "$0")/../server/console/static"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "htmx.org@$VERSION" >/dev/null && tar xzf "htmx.org-$VERSION.tgz" package/dist/htmx.min.js)
if [ "${UPDATE:-}" = 1 ]; then
	cp "$tmp/package/dist/htmx.min.js" htmx.min.js
	sha256sum htmx.min.js > htmx.min.js.sha256
fi
(cd "$tmp/package/dist" && sha256sum -c "$OLDPWD/htmx.min.js.sha256" >/dev/null) || { echo "htmx.org@$VERSION does not match htmx.min.js.sha256" >&2; exit 1; }
cmp -s "$tmp/package/dist/htmx.min.js" htmx.min.js || { echo "static/htmx.min.js differs from htmx.org@$VERSION" >&2; exit 1; }
echo "htmx.org@$VERSION: static/htmx.min.js verified"
