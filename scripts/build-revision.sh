#!/bin/sh
# Prints the revision the disk cache keys on (meson's vcs_tag runs it):
# `git describe`, and for a tree with uncommitted changes a hash of them, so
# that two builds of different uncommitted code never share cached kernels.
# "unknown" outside a git checkout.
cd "$1" 2>/dev/null || { echo unknown; exit 0; }
rev=$(git describe --always --dirty --abbrev=12 2>/dev/null) || { echo unknown; exit 0; }
case $rev in
*-dirty) rev="$rev-$(git diff HEAD 2>/dev/null | sha1sum | cut -c1-12)" ;;
esac
echo "$rev"
