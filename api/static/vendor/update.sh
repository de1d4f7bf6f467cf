#!/usr/bin/env bash
# Re-vendor the browser assets from the npm registry (npm pack, never a CDN), then print the
# sha256 of every vendored file for README.md. Run from anywhere: `bash api/static/vendor/update.sh`.
# Only the files the pages load are kept (no source maps, no ESM/CommonJS builds).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# package@version  destination folder  files (paths inside the tarball's package/)
vendor() {
  local spec="$1" dest="$here/$2"; shift 2
  (cd "$work" && npm pack --silent "$spec" >/dev/null)
  local tgz; tgz="$(ls -t "$work"/*.tgz | head -1)"
  rm -rf "$work/package" && tar xzf "$tgz" -C "$work" && rm "$tgz"
  rm -rf "$dest" && mkdir -p "$dest"
  for f in "$@"; do
    mkdir -p "$dest/$(dirname "${f#dist/}")"
    cp "$work/package/$f" "$dest/${f#dist/}"
  done
}

vendor leaflet@1.9.4 leaflet-1.9.4 LICENSE dist/leaflet.js dist/leaflet.css \
  dist/images/layers.png dist/images/layers-2x.png dist/images/marker-icon.png \
  dist/images/marker-icon-2x.png dist/images/marker-shadow.png
vendor @geoman-io/leaflet-geoman-free@2.20.2 leaflet-geoman-free-2.20.2 LICENSE \
  dist/leaflet-geoman.min.js dist/leaflet-geoman.css
vendor htmx.org@2.0.11 htmx.org-2.0.11 LICENSE dist/htmx.min.js
vendor swagger-ui-dist@5.36.0 swagger-ui-dist-5.36.0 LICENSE NOTICE swagger-ui-bundle.js \
  swagger-ui-bundle.js.LICENSE.txt swagger-ui.css favicon-32x32.png
# redoc 2.x (not 3.x: the 3.x bundle posts telemetry to a Redocly host and loads icons from
# a Redocly CDN). The 2.5.4 tarball ships no LICENSE file: the repository's MIT text is taken
# from the 3.0.1 tarball of the same repository.
vendor redoc@2.5.4 redoc-2.5.4 bundles/redoc.standalone.js bundles/redoc.standalone.js.LICENSE.txt
(cd "$work" && npm pack --silent redoc@3.0.1 >/dev/null && tar xzf redoc-3.0.1.tgz package/LICENSE)
cp "$work/package/LICENSE" "$here/redoc-2.5.4/LICENSE"
mv "$here/redoc-2.5.4/bundles/"* "$here/redoc-2.5.4/" && rmdir "$here/redoc-2.5.4/bundles"

cd "$here" && find . -type f ! -name README.md ! -name update.sh | sort | xargs sha256sum
