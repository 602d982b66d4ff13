// Runs inside each page of the book (common/tests/book_browser.rs sends it over WebDriver
// as the body of a function; arguments[0] is the edition, "en" or "zh-CN") and returns
// what the test checks. Measuring is the browser's job: only it knows how wide a line of
// code or a table really is in the fonts it has.
const edition = arguments[0];
const main = document.querySelector("main");
const problems = [];

// Names a box by its first words, so that a person can find it on the page.
const describe = (el) => {
    const text = (el.innerText || el.textContent || "").trim().split("\n")[0];
    return `<${el.tagName.toLowerCase()}> "${text.slice(0, 70)}"`;
};
// A box whose content is wider than the box: the reader would have to scroll sideways
// (one pixel of rounding allowed).
const tooWide = (el) => el.scrollWidth > el.clientWidth + 1;

if (!main) {
    problems.push("no <main>: not a page of the book");
} else {
    // 1. Code panes: the <pre> and the <code> inside it, either of which may scroll.
    for (const pre of main.querySelectorAll("pre")) {
        for (const box of [pre, pre.querySelector(":scope > code")]) {
            if (box && tooWide(box)) {
                problems.push(`code pane wider than its box (${box.scrollWidth} px of content in ` +
                    `${box.clientWidth} px): ${describe(pre)}`);
                break;
            }
        }
    }
    // 2. Tables, inside mdBook's scrolling wrapper or not.
    for (const table of main.querySelectorAll("table")) {
        // mdBook's wrapper scrolls a wide table: its overflow is the table's. Any other
        // box may overflow for other reasons, so there only the table's width counts.
        const wrapper = table.closest(".table-wrapper");
        const box = wrapper || table.parentElement;
        if ((wrapper && tooWide(wrapper)) || table.getBoundingClientRect().width > box.clientWidth + 1) {
            problems.push(`table wider than its box (${table.scrollWidth} px of content in ` +
                `${box.clientWidth} px): ${describe(table)}`);
        }
    }
    // 3. The page itself must not scroll sideways.
    if (document.documentElement.scrollWidth > window.innerWidth + 1) {
        problems.push(`the page is ${document.documentElement.scrollWidth} px wide in a ` +
            `${window.innerWidth} px window`);
    }
    // 4. Side by side when there is room, one above the other below about 900 px.
    for (const pair of main.querySelectorAll(".side-by-side")) {
        const [left, right] = pair.children;
        if (!left || !right) {
            problems.push(`a side-by-side block without two panes: ${describe(pair)}`);
            continue;
        }
        const a = left.getBoundingClientRect();
        const b = right.getBoundingClientRect();
        const stacked = b.top >= a.bottom - 1;
        const wide = window.innerWidth > 900;
        if (wide && (stacked || Math.abs(a.top - b.top) > 1)) {
            problems.push(`panes not side by side at ${window.innerWidth} px: ${describe(pair)}`);
        }
        if (!wide && !stacked) {
            problems.push(`panes not one above the other at ${window.innerWidth} px: ${describe(pair)}`);
        }
    }
    // 5. Copying code gives back its text: theme/code-lines.js cut every block into lines,
    // and the copy button copies what the browser renders (innerText).
    for (const code of main.querySelectorAll("pre > code.code-lines")) {
        if (code.innerText.replace(/\n$/, "") !== code.textContent.replace(/\n$/, "")) {
            problems.push(`copying this code would not give back its text: ${describe(code)}`);
        }
    }
    // 6. The Python ports are ours to lay out (docs/python/): at this width, none of their
    // lines may need to wrap in its pane. (The Rust code is formatted for the editor, at
    // up to 100 columns, and wraps with a hanging indent: theme/code-lines.js.)
    if (window.innerWidth > 900) {
        for (const code of main.querySelectorAll(".side-by-side code.language-python")) {
            const style = getComputedStyle(code);
            const probe = document.createElement("span");
            probe.textContent = "0".repeat(10);
            code.appendChild(probe);
            const column = probe.getBoundingClientRect().width / 10;
            const lineHeight = probe.getBoundingClientRect().height;
            probe.remove();
            const columns = Math.floor((code.clientWidth - parseFloat(style.paddingLeft) -
                parseFloat(style.paddingRight)) / column);
            for (const line of code.querySelectorAll(".code-line")) {
                if (line.getBoundingClientRect().height > lineHeight * 1.5) {
                    problems.push(`a line of a Python port wraps in its pane of ${columns} ` +
                        `columns: "${line.textContent.trim().slice(0, 70)}"`);
                }
            }
        }
    }
    // 7. An mdBook directive that was not replaced: a wrong path or anchor in {{#include}}.
    if (main.textContent.includes("{{#")) {
        const at = main.textContent.indexOf("{{#");
        const directive = main.textContent.slice(at).split("\n")[0].slice(0, 80);
        problems.push(`unresolved mdBook directive: ${directive}`);
    }
}
// 8. Markdown that did not render, left in the prose as it was typed: `**`, `__`, a
// backtick, `[text](`, or an underscore against a Chinese character. CommonMark does not
// close `**` after a full-width mark (`。`, `，`, `：`) when a Chinese character follows, nor
// open `_` between two Chinese characters; the page then shows the marks (and a bold run
// may take the rest of the paragraph). Code and program output are left out.
if (main) {
    const literal = [
        [/\*\*/, "**"],
        [/__/, "__"],
        [/`/, "a backtick"],
        [/\[[^\]\n]*\]\(/, "[text]("],
        [/[\u3400-\u9fff]_|_[\u3400-\u9fff]/, "_ against a Chinese character"],
    ];
    const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT, {
        acceptNode: (node) => node.parentElement.closest("code, pre, kbd, script, style")
            ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
    });
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const text = node.textContent;
        for (const [pattern, name] of literal) {
            const found = text.match(pattern);
            if (found) {
                const at = found.index;
                problems.push(`literal Markdown (${name}) in the prose: ` +
                    `"${text.slice(Math.max(0, at - 20), at + 30).replace(/\s+/g, " ")}"`);
            }
        }
    }
}
// 9. Images that did not load (the plot, and any other).
for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) {
        problems.push(`image missing: ${img.getAttribute("src")}`);
    }
}

// 10. English text in the Chinese edition: a paragraph, list item, heading or table cell
// with several English words and no Chinese at all, outside code, program output and
// anything marked as another language. (The glossary's "English" column is English on
// purpose.)
const english = [];
if (edition === "zh-CN" && main) {
    const chinese = /[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]/;
    const ownText = (el) => {
        let text = "";
        const walk = (node) => {
            for (const child of node.childNodes) {
                if (child.nodeType === Node.TEXT_NODE) {
                    text += child.textContent;
                } else if (child.nodeType === Node.ELEMENT_NODE &&
                    !child.matches("code, pre, kbd, script, style, [lang]:not([lang|=zh])")) {
                    walk(child);
                }
            }
        };
        walk(el);
        return text;
    };
    const englishColumn = (cell) => {
        const table = cell.closest("table");
        const header = table && table.querySelectorAll("thead th")[cell.cellIndex];
        return header && header.textContent.trim() === "English";
    };
    for (const el of main.querySelectorAll("p, li, h1, h2, h3, h4, h5, h6, th, td, summary, blockquote")) {
        if (el.closest("pre") || (el.tagName === "TD" && englishColumn(el))) {
            continue;
        }
        const text = ownText(el);
        const words = text.match(/[A-Za-z]{2,}/g) || [];
        // A label ("Answer key") is short: one English word is enough to tell.
        const enough = el.tagName === "SUMMARY" ? 1 : 3;
        if (words.length >= enough && !chinese.test(text)) {
            english.push(describe(el));
        }
    }
}

// The language switch (theme/language-switch.js) and the links to other pages, for the
// test to check against the files on disk.
const switchLinks = [...document.querySelectorAll(".language-switch a")].map((a) => ({
    lang: a.getAttribute("lang"),
    href: a.href,
    current: a.getAttribute("aria-current") === "page",
}));
const links = main ? [...main.querySelectorAll("a[href]")]
    .filter((a) => a.protocol === "file:")
    .map((a) => ({ href: a.href, fragment: decodeURIComponent(a.hash.slice(1)) })) : [];

return {
    problems,
    english,
    switchLinks,
    links,
    width: window.innerWidth,
    lang: document.documentElement.lang,
};
