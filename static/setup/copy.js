// Copy buttons in the admin: <button data-copy="element-id">. Uses the Clipboard API where the
// page is allowed to, and falls back to selecting the text and execCommand("copy").
// Fields marked data-select-on-focus select their whole text when focused (the
// Content-Security-Policy allows no onfocus attribute).
(function () {
  "use strict";
  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "absolute";
    area.style.left = "-10000px";
    document.body.appendChild(area);
    area.select();
    var done = false;
    try { done = document.execCommand("copy"); } catch (e) { done = false; }
    document.body.removeChild(area);
    return done;
  }
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-on-focus]")) {
      event.target.select();
    }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) { return; }
    event.preventDefault();
    var source = document.getElementById(button.dataset.copy);
    if (!source) { return; }
    var text = (source.value !== undefined ? source.value : source.textContent).trim();
    function said(ok) { button.textContent = ok ? "Copied" : "Select and copy by hand"; }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { said(true); },
        function () { said(fallback(text)); });
    } else {
      said(fallback(text));
    }
  });
})();
