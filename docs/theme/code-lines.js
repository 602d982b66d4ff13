// Long lines of code wrap, and keep their indentation.
//
// A code pane must not scroll sideways (the reader would lose the other pane, or the
// end of a log line), so code wraps (book.css: white-space: pre-wrap). Wrapped as it is,
// the rest of a line would start at the left edge, where it reads as a new line. So each
// line of every code block becomes a span of its own, with a hanging indent: the rest
// of a long line starts two columns to the right of where the line itself starts.
//
// Runs after mdBook's book.js, which has highlighted the code by then; the highlighter's
// spans are cut at each line end and reopened on the next line, so colours stay. The
// text is not changed: the line ends stay between the spans, so the copy button, and
// a selection, copy the code exactly.
(function () {
    "use strict";
    // Columns of a tab, as mdBook's highlighter counts them.
    const TAB = 4;
    // How far to the right of its line's own indentation a wrapped part starts.
    const HANG = 2;

    // Splits a highlighted <code> into lines: a list of spans, each holding copies of the
    // highlighter's elements that were open there. The line ends are returned apart.
    function splitLines(code) {
        const lines = [];
        const open = []; // the elements open here: the original, and its copy in this line
        let line = newLine();

        function newLine() {
            const span = document.createElement("span");
            span.className = "code-line";
            let parent = span;
            for (const element of open) {
                element.copy = element.original.cloneNode(false);
                parent.appendChild(element.copy);
                parent = element.copy;
            }
            return span;
        }
        const here = () => (open.length ? open[open.length - 1].copy : line);

        function walk(node) {
            for (const child of node.childNodes) {
                if (child.nodeType === Node.TEXT_NODE) {
                    child.textContent.split("\n").forEach(function (part, i) {
                        if (i > 0) {
                            lines.push(line);
                            line = newLine();
                        }
                        if (part) {
                            here().appendChild(document.createTextNode(part));
                        }
                    });
                } else if (child.nodeType === Node.ELEMENT_NODE) {
                    const element = { original: child, copy: child.cloneNode(false) };
                    here().appendChild(element.copy);
                    open.push(element);
                    walk(child);
                    open.pop();
                }
            }
        }
        walk(code);
        // The block's last line end leaves an empty line after it: not a line of code.
        if (line.textContent || lines.length === 0) {
            lines.push(line);
        }
        return lines;
    }

    function indentOf(text) {
        let columns = 0;
        for (const c of text) {
            if (c === " ") {
                columns += 1;
            } else if (c === "\t") {
                columns += TAB;
            } else {
                break;
            }
        }
        return columns;
    }

    document.querySelectorAll("main pre > code").forEach(function (code) {
        const trailing = code.textContent.endsWith("\n");
        const lines = splitLines(code);
        const fragment = document.createDocumentFragment();
        lines.forEach(function (line, i) {
            const hang = indentOf(line.textContent) + HANG;
            line.style.paddingInlineStart = hang + "ch";
            line.style.textIndent = -hang + "ch";
            fragment.appendChild(line);
            if (i < lines.length - 1 || trailing) {
                fragment.appendChild(document.createTextNode("\n"));
            }
        });
        code.replaceChildren(fragment);
        code.classList.add("code-lines");
    });
})();
