// The language switch (English | 中文) in the menu bar of every page, in both editions.
//
// The English edition is built into book/ and the Chinese one into book/zh-CN/ (see
// docs/translating.md), with the same file names, so the same page in the other language
// is one folder down or up from this one. mdBook gives each page `path_to_root`, the way
// back to its edition's first folder; the page's own path is what follows it.
(function () {
    "use strict";
    const LANGUAGES = [
        { code: "en", name: "English", folder: "" },
        { code: "zh-CN", name: "中文", folder: "zh-CN/" },
    ];
    const current =
        LANGUAGES.find(function (language) {
            return language.code === document.documentElement.lang;
        }) || LANGUAGES[0];
    // typeof: a page without mdBook's script (none today) simply gets no switch.
    if (typeof path_to_root !== "string") {
        return;
    }
    // An empty path_to_root means "this folder", which new URL("") would take as this page.
    const editionRoot = new URL(path_to_root || "./", window.location.href);
    // The folder above both editions: book/ itself for English, book/ for book/zh-CN/ too.
    const bookRoot = new URL(current.folder ? "../" : "./", editionRoot);
    const page = window.location.href.slice(editionRoot.href.length) || "index.html";

    const bar = document.querySelector("#mdbook-menu-bar .right-buttons");
    if (!bar) {
        return;
    }
    const nav = document.createElement("nav");
    nav.className = "language-switch";
    nav.setAttribute("aria-label", current.code === "zh-CN" ? "语言" : "Language");
    LANGUAGES.forEach(function (language, i) {
        if (i > 0) {
            nav.appendChild(document.createTextNode(" | "));
        }
        const link = document.createElement("a");
        link.textContent = language.name;
        link.lang = language.code;
        link.hreflang = language.code;
        link.href = new URL(language.folder + page, bookRoot).href;
        if (language === current) {
            link.setAttribute("aria-current", "page");
        }
        nav.appendChild(link);
    });
    bar.insertBefore(nav, bar.firstChild);
})();
