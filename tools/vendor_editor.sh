#!/bin/sh
# Fetches the rich-text editor of the email template step (Squire, Fastmail's `squire-rte` on npm) into the
# gateway's vendored browser libraries: its prebuilt dist file (no build step, at run time or here) and its licence.
# The version is pinned and both the npm tarball and the file are checked against known sha256 sums, so running
# this again reproduces the vendored file byte for byte (web/static/vendor/README.md).
# Usage: tools/vendor_editor.sh   (needs npm, tar and sha256sum; writes only the two files below)
set -eu

VERSION=2.4.8
TARBALL_SHA256=0f68632f9df91825346ab9baba4f88b28f017002967ea9ea23bcb14c4a505521
FILE_SHA256=75c1665d33ec8c1a08dbb5cadae8381acfded4677da44d70cf88a59e4082af20

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENDOR="$ROOT/services/gateway/postman_gateway/web/static/vendor"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
npm pack --silent "squire-rte@$VERSION" >/dev/null
echo "$TARBALL_SHA256  squire-rte-$VERSION.tgz" | sha256sum -c --quiet
tar xzf "squire-rte-$VERSION.tgz"
echo "$FILE_SHA256  package/dist/squire.js" | sha256sum -c --quiet

# The file without its last line, the source-map comment: the map is not vendored, and a comment naming a file
# the server does not have would make the browser's developer tools ask for it in vain.
sed '$d' package/dist/squire.js > "$VENDOR/squire.js"
cp package/LICENSE "$VENDOR/squire.LICENSE"
echo "squire-rte $VERSION -> $VENDOR/squire.js ($(sha256sum "$VENDOR/squire.js" | cut -d' ' -f1))"
