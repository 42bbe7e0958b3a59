#!/usr/bin/env bash
# Regenerates the dialect reference in docs/ from the ODS definitions.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
attn_build
mkdir -p "$ATTN_ROOT/docs/dialect"
cp "$ATTN_BUILD/dialect/AttnDialect.md" "$ATTN_ROOT/docs/dialect/AttnDialect.md"
echo "updated docs/dialect/AttnDialect.md"
