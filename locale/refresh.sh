#!/usr/bin/env bash
# Refresh the Simplified Chinese translations (needs GNU gettext: apt-get install gettext).
#
#   locale/refresh.sh            collect strings of the project, merge, compile
#   locale/refresh.sh --unfold   also list Unfold strings that neither Django nor we translate
#
# 1. makemessages collects every {% translate %} / gettext string of the project (all apps and
#    templates/) into locale/zh_Hans/LC_MESSAGES/django.po, keeping existing translations.
# 2. locale/zh_Hans/thirdparty.po (Chinese for django-unfold, which ships none) is merged in.
# 3. compilemessages writes django.mo, which is committed (a machine without gettext still
#    shows Chinese). Then translate the empty msgstr "" entries in django.po and run this again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PO=locale/zh_Hans/LC_MESSAGES/django.po

command -v msgfmt >/dev/null || { echo "GNU gettext is missing: apt-get install -y gettext" >&2; exit 1; }

DJANGO_SETTINGS_MODULE=erp.settings "$PY" manage.py makemessages -l zh_Hans -e html,py,txt --no-obsolete \
    --ignore='.venv/*' --ignore='staticfiles/*' --ignore='tests/*' --ignore='locale/*' --ignore='bench/*' --ignore='docs/*'
# Fragments of translations written beside django.po (locale/zh_Hans/parts/*.po, one per piece of work)
# are merged in too, so parallel work never edits the one catalogue at the same time.
shopt -s nullglob
msgcat --use-first --no-wrap -o "$PO" "$PO" locale/zh_Hans/thirdparty.po locale/zh_Hans/parts/*.po
DJANGO_SETTINGS_MODULE=erp.settings "$PY" manage.py compilemessages -l zh_Hans --ignore=.venv --ignore=staticfiles --ignore=node_modules

if [[ "${1:-}" == "--unfold" ]]; then
    tmp=$(mktemp -d)
    mkdir -p "$tmp/src/locale"
    cp -r "$("$PY" -c 'import os, unfold; print(os.path.dirname(unfold.__file__))')" "$tmp/src/unfold"
    (cd "$tmp/src" && DJANGO_SETTINGS_MODULE=erp.settings PYTHONPATH="$OLDPWD" "$OLDPWD/$PY" -m django makemessages -l zh_Hans -e html,py,txt >/dev/null)
    msgmerge --quiet --no-wrap --update locale/zh_Hans/thirdparty.po "$tmp/src/locale/zh_Hans/LC_MESSAGES/django.po" 2>/dev/null || true
    echo "Untranslated Unfold strings (Django's own catalogue may cover some):"
    msgattrib --untranslated --no-obsolete locale/zh_Hans/thirdparty.po | grep -c '^msgid' || true
    rm -rf "$tmp"
fi
untranslated=$(msgattrib --untranslated --no-obsolete "$PO" | grep -c '^msgid' || true)
echo "$PO: $(( untranslated > 0 ? untranslated - 1 : 0 )) untranslated strings"
