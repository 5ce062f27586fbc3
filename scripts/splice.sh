#!/usr/bin/env bash
# splice.sh — pastes generated files into a markdown document between its markers
#   <!-- begin NAME -->  ...  <!-- end NAME -->
# NAME.md is pasted as it is; NAME.txt (a program's printout) inside a code fence. Used by
# make_figures.sh (docs/walkthrough.md) and make_results.sh (docs/results.md).
#
#   bash scripts/splice.sh DOC.md DIR
set -euo pipefail
doc=$1
dir=$2
awk -v dir="$dir" '
  match($0, /^<!-- begin [A-Za-z0-9_.-]+ -->$/) {
    print
    file = $3
    print ""
    if (file ~ /\.txt$/) print "```"
    while ((getline line < (dir "/" file)) > 0) print line
    close(dir "/" file)
    if (file ~ /\.txt$/) print "```"
    print ""
    skipping = 1
    next
  }
  /^<!-- end [A-Za-z0-9_.-]+ -->$/ { skipping = 0 }
  !skipping { print }
' "$doc" > "$doc.tmp"
mv "$doc.tmp" "$doc"
