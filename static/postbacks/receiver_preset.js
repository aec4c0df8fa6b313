/*
 * The tracker picker of the setup form and of the endpoint admin: pick a tracker, give its
 * domain (and key), press the button, and the postback URL (and, in the admin, the statuses and
 * their words) is filled in from the server's preset, to edit freely. The live preview then
 * updates as it does for typing. Plain JavaScript, no build step; server text is inserted as
 * text only (textContent), never as HTML.
 */
(function () {
    "use strict";

    function clickParam(form) {
        var explicit = form.elements.namedItem("receiver_click_param");
        if (explicit && explicit.value) {
            return explicit.value.trim();
        }
        // The setup form: the last param the affiliate listed holds the click id (§3: the last
        // param takes the rest, so a UUID click id survives there).
        var names = Array.prototype.filter.call(form.elements, function (el) {
            return /^param_name_\d+$/.test(el.name || "") && el.value.trim();
        });
        return names.length ? names[names.length - 1].value.trim() : "clickId";
    }

    function announce(field) {
        field.dispatchEvent(new Event("input", {bubbles: true}));
        field.dispatchEvent(new Event("change", {bubbles: true}));
    }

    function fillStatuses(form, data) {
        var words = form.elements.namedItem("status_values");
        if (words && words.tagName === "TEXTAREA") {
            words.value = JSON.stringify(data.status_values);
            announce(words);
        }
        var boxes = form.querySelectorAll("input[type=checkbox][name=fire_on]");
        Array.prototype.forEach.call(boxes, function (box) {
            box.checked = data.fire_on.indexOf(box.value) !== -1;
        });
        if (boxes.length) {
            announce(boxes[0]);
        }
    }

    function describe(data) {
        var words = Object.keys(data.status_values).map(function (status) {
            return status + " \u2192 " + data.status_values[status];
        });
        var lines = [
            "Filled in. In your offer links, put " + data.click_macro +
                " where your tracker's click id goes.",
            "Sent on: " + data.fire_on.join(", ") +
                (words.length ? " (as " + words.join(", ") + ")" : "") + ".",
            "Deduplicated by your tracker on " + data.dedupe_key + ".",
            "Following " + data.doc_url
        ];
        if (data.note) {
            lines.splice(1, 0, data.note);
        }
        return lines.join(" ");
    }

    function init() {
        var box = document.getElementById("receiver-preset");
        if (!box || !box.dataset.presetUrl) {
            return;
        }
        var form = box.closest("form");
        var button = document.getElementById("receiver-preset-fill");
        var result = document.getElementById("receiver-preset-result");
        if (!form || !button || !result) {
            return;
        }
        button.hidden = false;
        button.addEventListener("click", function () {
            var preset = form.elements.namedItem("receiver_preset");
            if (!preset || !preset.value) {
                result.className = "help";
                result.textContent = "Pick your tracker first, or write the URL yourself.";
                return;
            }
            var query = new URLSearchParams({
                preset: preset.value,
                domain: (form.elements.namedItem("receiver_domain") || {}).value || "",
                key: (form.elements.namedItem("receiver_key") || {}).value || "",
                click_param: clickParam(form)
            });
            fetch(box.dataset.presetUrl + "?" + query.toString(), {credentials: "same-origin"})
                .then(function (response) { return response.json(); })
                .then(function (data) {
                    if (!data.ok) {
                        result.className = "error errornote";
                        result.textContent = data.error;
                        return;
                    }
                    var template = form.elements.namedItem("url_template");
                    template.value = data.url_template;
                    announce(template);
                    fillStatuses(form, data);
                    result.className = "help";
                    result.textContent = describe(data);
                })
                .catch(function () {
                    result.className = "error errornote";
                    result.textContent = "The presets are unavailable right now; write the URL yourself.";
                });
        });
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", init);
    } else {
        init();
    }
})();
