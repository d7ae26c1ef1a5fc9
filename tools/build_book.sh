#!/usr/bin/env bash
# Install everything and build the book (offline, warnings are errors). Usage: bash tools/build_book.sh
source "$(dirname "$0")/install.sh"
rm -rf _build/html
jupyter-book build . -W --keep-going
python tools/check_html.py _build/html --symbols
echo
echo "The book is at: $ROOT/_build/html/index.html"
