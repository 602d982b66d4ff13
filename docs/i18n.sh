#!/usr/bin/env bash
# docs/i18n.sh — the book's translations, with mdbook-i18n-helpers and gettext.
#
#   docs/i18n.sh update   extract the English text into docs/po/messages.pot, then merge
#                         it into every catalog (docs/po/zh-CN.po): new text comes in
#                         untranslated, changed text marked fuzzy
#   docs/i18n.sh check    fail if messages.pot is out of date, or a catalog is not merged
#                         with it or has an untranslated or fuzzy message; changes nothing
#                         (--allow-untranslated: report untranslated ones, do not fail)
#   docs/i18n.sh build [DIR]
#                         build both editions: DIR (English), DIR/zh-CN (Chinese);
#                         DIR is docs/book unless given (a relative DIR is taken
#                         from docs/)
#
# The figures that bench/run.sh --publish writes (docs/src/figures/, included by three
# pages) are not in the catalog, since every run changes them: the Chinese build
# translates them with a catalog that bench/report.py makes from its own vocabulary.
#
# See docs/src/translating.md. Needs mdbook 0.5, mdbook-i18n-helpers 0.4, gettext and python3.
set -euo pipefail
cd "$(dirname "$0")"

LANGUAGES=(zh-CN)
# The title in the menu bar and the window; the book's text comes from the catalog.
declare -A TITLES=([zh-CN]="sockets-lab：套接字编程，从 Python 教程到 Rust")

# Extract the English into DIR/messages.pot. The included files (code, transcripts) are
# left out on purpose: with the default preprocessors off, an {{#include}} stays a line
# of its own in its code block, and code blocks without text are not extracted. The
# Chinese build translates after the includes, and leaves the code as it is.
extract() {
    local dir=$1
    # Removed first, so that a failed extraction cannot leave the old file looking new.
    rm -f "$dir/messages.pot"
    MDBOOK_OUTPUT='{"xgettext": {"pot-file": "messages.pot", "granularity": 0}}' \
        MDBOOK_BUILD__USE_DEFAULT_PREPROCESSORS=false MDBOOK_PREPROCESSOR__GETTEXT__AFTER="[]" \
        mdbook build . -d "$dir" 2>&1 | grep -v "^ INFO" || true
    [[ -s $dir/messages.pot ]] || { echo "i18n: mdbook-xgettext wrote no $dir/messages.pot" >&2; exit 1; }
    # The creation date changes at every run; blank it (the field must stay: the gettext
    # preprocessor requires it), so an unchanged book gives an unchanged file.
    sed -i 's/^"POT-Creation-Date: .*/"POT-Creation-Date: \\n"/' "$dir/messages.pot"
}

# The figures' own catalog, DIR/figures.po: they are extracted as a small book of their
# own (chapter titles are numbers, which need no words), then bench/report.py gives each
# piece its Chinese; it fails, naming the piece, when one has none.
figures_catalog() {
    local dir=$1 n=0 page
    mkdir -p "$dir/figures/src"
    printf '[book]\ntitle = "figures"\n' >"$dir/figures/book.toml"
    : >"$dir/figures/src/SUMMARY.md"
    for page in src/figures/*.md; do
        n=$((n + 1))
        cp "$page" "$dir/figures/src/"
        echo "- [$n]($(basename "$page"))" >>"$dir/figures/src/SUMMARY.md"
    done
    MDBOOK_OUTPUT='{"xgettext": {"granularity": 0}}' \
        mdbook build "$dir/figures" -d "$dir/figures/pot" 2>&1 | grep -v "^ INFO" || true
    [[ -s $dir/figures/pot/messages.pot ]] || { echo "i18n: mdbook-xgettext wrote no $dir/figures/pot/messages.pot" >&2; return 1; }
    python3 ../bench/report.py --translate-po "$dir/figures/pot/messages.pot" >"$dir/figures.po"
}

case ${1:-} in
update)
    extract po
    for lang in "${LANGUAGES[@]}"; do
        msgmerge --quiet --update --backup=none --no-wrap "po/$lang.po" po/messages.pot
        # Text no longer in the book goes (git keeps it): no stale entries in the catalog.
        msgattrib --no-obsolete --no-wrap "po/$lang.po" -o "po/$lang.po"
        msgfmt --check --statistics -o /dev/null "po/$lang.po"
    done
    ;;
check)
    # --allow-untranslated: while the first translation is being finished (translating.md).
    allow_untranslated=0
    [[ ${2:-} == --allow-untranslated ]] && allow_untranslated=1
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    extract "$scratch"
    status=0
    if ! diff -q po/messages.pot "$scratch/messages.pot" >/dev/null; then
        echo "i18n: docs/po/messages.pot is out of date with docs/src: run docs/i18n.sh update" >&2
        diff -u po/messages.pot "$scratch/messages.pot" | head -40 >&2 || true
        status=1
    fi
    for lang in "${LANGUAGES[@]}"; do
        cp "po/$lang.po" "$scratch/$lang.po"
        msgmerge --quiet --update --backup=none --no-wrap "$scratch/$lang.po" "$scratch/messages.pot"
        # The committed catalog must already be merged: the same messages as the template.
        if ! cmp -s <(msgattrib --no-obsolete --no-wrap "po/$lang.po" | grep '^msgid') \
            <(msgattrib --no-obsolete --no-wrap "$scratch/$lang.po" | grep '^msgid'); then
            echo "i18n: docs/po/$lang.po is not merged with the English text: run docs/i18n.sh update" >&2
            status=1
        fi
        # msgfmt prints "N translated messages, F fuzzy translations, U untranslated
        # messages." (the last two only when they are not zero).
        stats=$(msgfmt --check --statistics -o /dev/null "$scratch/$lang.po" 2>&1) || {
            echo "$stats" >&2
            status=1
            continue
        }
        echo "i18n: $lang: $stats"
        fuzzy=$(grep -Eo '[0-9]+ fuzzy' <<<"$stats" | grep -Eo '[0-9]+' || echo 0)
        untranslated=$(grep -Eo '[0-9]+ untranslated' <<<"$stats" | grep -Eo '[0-9]+' || echo 0)
        if ((fuzzy > 0)); then
            echo "i18n: $lang: these messages changed in English since they were translated (fuzzy):" >&2
            msgattrib --only-fuzzy --no-obsolete --no-wrap "$scratch/$lang.po" | grep -A2 "^#:" | head -60 >&2 || true
            status=1
        fi
        if ((untranslated > 0)); then
            if ((allow_untranslated)); then
                echo "i18n: $lang: $untranslated messages not translated yet; they show in English (allowed by --allow-untranslated)"
            else
                echo "i18n: $lang: every message must be translated; these are not:" >&2
                msgattrib --untranslated --no-obsolete --no-wrap "$scratch/$lang.po" | grep -A2 "^#:" | head -60 >&2 || true
                status=1
            fi
        fi
        ((status == 0)) || echo "i18n: run docs/i18n.sh update, translate, and see docs/src/translating.md" >&2
    done
    # The style rules of translating.md: the glossary's words, no italics, full-width
    # parentheses. The self-test first shows that each rule finds its fault.
    python3 style.py --self-test || status=1
    for lang in "${LANGUAGES[@]}"; do
        python3 style.py "po/$lang.po" || status=1
    done
    # The figures: every piece of them has its Chinese (bench/report.py says which not).
    if ! figures_catalog "$scratch" 2>"$scratch/figures.err"; then
        cat "$scratch/figures.err" >&2
        echo "i18n: the figures in docs/src/figures/ have pieces without Chinese" >&2
        status=1
    fi
    exit $status
    ;;
build)
    out=${2:-book}
    mdbook build . -d "$out"
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    figures_catalog "$scratch"
    for lang in "${LANGUAGES[@]}"; do
        # The book's catalog and the figures' one, together, for this build only.
        msgattrib --no-obsolete --no-wrap "po/$lang.po" |
            msgcat --use-first --no-wrap - "$scratch/figures.po" -o "$scratch/$lang.po"
        MDBOOK_BOOK__LANGUAGE=$lang MDBOOK_BOOK__TITLE=${TITLES[$lang]} \
            MDBOOK_PREPROCESSOR__GETTEXT__PO_DIR=$scratch mdbook build . -d "$out/$lang"
    done
    ;;
*)
    sed -n '2,19p' "$(basename "$0")" >&2  # (we are in docs/ now)
    exit 2
    ;;
esac
