// Runs inside a grader's --report page (common::grade::html), sent by
// common/tests/book_browser.rs, and returns every problem a teacher would meet reading it
// at this window's width: a page or table wider than the window, a failed cell whose
// reason cannot be seen, a cell without its mark, anything fetched from the network, no
// time or version.
const problems = [];
const describe = (el) => `<${el.tagName.toLowerCase()}> "${(el.innerText || "").trim().split("\n")[0].slice(0, 60)}"`;

if (document.documentElement.scrollWidth > window.innerWidth + 1) {
    problems.push(`the page is ${document.documentElement.scrollWidth} px wide in a ${window.innerWidth} px window`);
}
const table = document.querySelector("table");
if (!table) {
    problems.push("no table");
} else {
    const box = table.parentElement;
    if (table.getBoundingClientRect().width > box.clientWidth + 1) {
        problems.push(`table wider than its box (${Math.round(table.getBoundingClientRect().width)} px in ${box.clientWidth} px)`);
    }
    for (const cell of table.querySelectorAll("td, th")) {
        if (cell.scrollWidth > cell.clientWidth + 1) {
            problems.push(`a cell's text spills out of it: ${describe(cell)}`);
        }
    }
    for (const cell of table.querySelectorAll("td.fail")) {
        const why = cell.querySelector(".why");
        const seen = why && why.getBoundingClientRect();
        if (!why || why.innerText.trim() === "" || seen.width < 1 || seen.height < 1 ||
            getComputedStyle(why).visibility === "hidden") {
            problems.push(`a failed cell without a visible reason: ${describe(cell.closest("tr"))}`);
        }
        if (!cell.innerText.includes("✗")) {
            problems.push(`a failed cell without its ✗: ${describe(cell.closest("tr"))}`);
        }
    }
    for (const cell of table.querySelectorAll("td.pass")) {
        if (!cell.innerText.includes("✓")) {
            problems.push(`a passed cell without its ✓: ${describe(cell.closest("tr"))}`);
        }
    }
}
// Nothing from the network: no script, stylesheet, image, font or frame from elsewhere.
for (const el of document.querySelectorAll("[src], link[href], iframe, object, embed")) {
    problems.push(`fetches something: ${el.outerHTML.slice(0, 80)}`);
}
for (const sheet of document.styleSheets) {
    try {
        for (const rule of sheet.cssRules) {
            if (/url\(|@import/.test(rule.cssText)) {
                problems.push(`the style fetches something: ${rule.cssText.slice(0, 80)}`);
            }
        }
    } catch (e) {
        problems.push(`a style sheet from elsewhere: ${sheet.href}`);
    }
}
const meta = document.querySelector(".meta");
if (!meta || !document.querySelector(".meta time") || !/ by \S+ \d+\.\d+\.\d+ /.test(meta.innerText)) {
    problems.push("no time and grader version at the top");
}
return {
    problems,
    rows: table ? table.querySelectorAll("tbody tr").length : 0,
    failed: table ? table.querySelectorAll("td.fail").length : 0,
    width: window.innerWidth,
};
