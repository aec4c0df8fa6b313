/*
 * Live preview on the postback endpoint page (admin): while the template, events, test link,
 * offer or affiliate change, ask the server (a staff-only JSON view that calls the same render
 * service as test postbacks) for the URL of a sample conversion of each event, and for the macros
 * of the chosen affiliate. Plain JavaScript, no build step. Server text is only ever inserted as
 * text (textContent), never as HTML.
 */
(function () {
    "use strict";

    var WATCHED = [
        "affiliate", "offer", "event_types", "url_template", "test_link", "fire_on", "status_values"
    ];
    var DELAY_MS = 250;

    function element(tag, className, text) {
        var node = document.createElement(tag);
        if (className) {
            node.className = className;
        }
        if (text !== undefined) {
            node.textContent = text;
        }
        return node;
    }

    function renderPreview(box, data) {
        var parts = [];
        if (data.error) {
            var note = element("span", "errornote", "Cannot render a sample: " + data.error);
            note.style.display = "inline-block";
            parts.push(note);
        } else {
            var list = element("ul", "postback-preview-urls");
            data.urls.forEach(function (item) {
                var row = element("li");
                row.appendChild(element("strong", "", item.event));
                row.appendChild(
                    document.createTextNode(" (" + item.event_name + "), " + item.status + ": ")
                );
                row.appendChild(element("code", "", item.url));
                list.appendChild(row);
            });
            parts.push(list, element("small", "", data.source));
            if (data.warning) {
                parts.push(element("p", "warning postback-dedupe-warning", data.warning));
            }
        }
        box.replaceChildren.apply(box, parts);
    }

    function renderMacros(table, note, macros, hasAffiliate) {
        var body = element("tbody");
        macros.forEach(function (macro) {
            var row = element("tr");
            var name = element("td");
            name.appendChild(element("code", "", "{" + macro.name + "}"));
            row.appendChild(name);
            row.appendChild(element("td", "", macro.description));
            body.appendChild(row);
        });
        table.replaceChildren(body);
        if (note) {
            note.textContent = hasAffiliate ? "" : "Choose the affiliate to see its tracker macros.";
        }
    }

    function init() {
        var box = document.getElementById("postback-preview");
        if (!box || !box.dataset.previewUrl) {
            return;
        }
        var form = box.closest("form");
        if (!form) {
            return;
        }
        var macros = document.getElementById("postback-macros");
        var macrosNote = document.getElementById("postback-macros-note");
        var timer = null;
        var latest = 0;

        function refresh() {
            var mine = ++latest;
            var data = new FormData(form);
            box.classList.add("is-stale");
            fetch(box.dataset.previewUrl, {
                method: "POST",
                body: data,
                credentials: "same-origin",
                headers: {"X-Requested-With": "XMLHttpRequest"}
            })
                .then(function (response) {
                    return response.json().then(function (json) {
                        return {ok: response.ok, json: json};
                    });
                })
                .then(function (answer) {
                    if (mine !== latest) {
                        return; // a newer request is on its way; its answer wins
                    }
                    box.classList.remove("is-stale");
                    if (!answer.ok) {
                        renderPreview(box, {error: "the page holds a value the preview cannot read"});
                        return;
                    }
                    renderPreview(box, answer.json);
                    if (macros) {
                        renderMacros(macros, macrosNote, answer.json.macros, !!data.get("affiliate"));
                    }
                })
                .catch(function () {
                    if (mine === latest) {
                        box.classList.remove("is-stale");
                        renderPreview(box, {error: "the preview is unavailable (no answer)"});
                    }
                });
        }

        function schedule(event) {
            var name = event && event.target && event.target.name;
            if (name && WATCHED.indexOf(name) === -1) {
                return;
            }
            window.clearTimeout(timer);
            timer = window.setTimeout(refresh, DELAY_MS);
        }

        form.addEventListener("input", schedule);
        form.addEventListener("change", schedule);
        // The affiliate, offer and event pickers are select2 widgets: they announce changes
        // through jQuery only, which native listeners never hear.
        if (window.django && window.django.jQuery) {
            window.django.jQuery(form).on("change", "select", function () {
                schedule({target: this});
            });
        }
        var template = form.elements.namedItem("url_template");
        if (template && template.value) {
            refresh();
        }
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", init);
    } else {
        init();
    }
})();
