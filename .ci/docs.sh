#!/usr/bin/env bash
# Builds the DocC catalogs of the public Swift API (SluiceKit, SluiceConnector) with the toolchain's
# docc, warnings as errors: a broken symbol link or a malformed catalog fails. Symbol graphs come from
# `swift package dump-symbol-graph`; no plugin is needed. Output: .build/docs/<module>.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .build/docs
log=$(mktemp)
if ! swift package dump-symbol-graph --minimum-access-level public > "$log" 2>&1; then
    tail -30 "$log"
    echo "cannot dump the symbol graphs"
    exit 1
fi
rm -f "$log"
graphs=$(find .build -type d -name symbolgraph -path "*$(uname -m)*" | head -1)
for entry in SluiceKit:Sources/SluiceKit/SluiceKit.docc SluiceConnector:connectors/sdk/swift/SluiceConnector.docc; do
    module=${entry%%:*} catalog=${entry#*:}
    dir=$(mktemp -d)
    cp "$graphs/$module.symbols.json" "$dir/"
    docc convert "$catalog" --additional-symbol-graph-dir "$dir" --fallback-display-name "$module" \
        --fallback-bundle-identifier "org.sluice.$module" --output-path ".build/docs/$module" --warnings-as-errors
    rm -rf "$dir"
    echo "$module: .build/docs/$module"
done
