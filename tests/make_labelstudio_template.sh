#!/usr/bin/env bash
# A migrated, empty Label Studio SQLite database (no user, no organisation yet) for test servers to copy.
# usage: make_labelstudio_template.sh VENV OUT_FILE
set -euo pipefail
venv=$(cd "$1" && pwd)
out=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
package=$("$venv/bin/python" -c 'import label_studio, os; print(os.path.dirname(label_studio.__file__))')
(cd "$package" && env -i PATH="$venv/bin:/usr/bin:/bin" HOME="$tmp" LABEL_STUDIO_BASE_DATA_DIR="$tmp" \
  DJANGO_DB=sqlite SECRET_KEY=template-only SENTRY_DSN= COLLECT_ANALYTICS=false LATEST_VERSION_CHECK=false \
  DJANGO_SETTINGS_MODULE=core.settings.label_studio "$venv/bin/python" manage.py migrate --no-color -v 0)
mkdir -p "$(dirname "$out")"
cp "$tmp/label_studio.sqlite3" "$out"
