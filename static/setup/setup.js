// The setup form's helpers, all optional: the form works without JavaScript.
// - "Add a param" reveals the next hidden param row (the form has a fixed number of rows);
// - the chosen-events checkboxes show only for "A chosen set of events";
// - the preview updates as the affiliate types, through the JSON preview endpoint.
(function () {
  "use strict";
  var form = document.getElementById("setup-form");
  if (!form) { return; }

  var addButton = document.getElementById("add-param");
  function hiddenRows() { return form.querySelectorAll("tr.param-row[hidden]"); }
  if (addButton) {
    addButton.hidden = hiddenRows().length === 0;
    addButton.addEventListener("click", function () {
      var rows = hiddenRows();
      if (rows.length) {
        rows[0].hidden = false;
        var input = rows[0].querySelector("input");
        if (input) { input.focus(); }
      }
      addButton.hidden = hiddenRows().length === 0;
    });
  }

  var chosenRow = document.getElementById("row-event_codes");
  function syncChosen() {
    var picked = form.querySelector("input[name=events]:checked");
    if (chosenRow) { chosenRow.hidden = !picked || picked.value !== "chosen"; }
  }
  form.addEventListener("change", function (event) {
    if (event.target && event.target.name === "events") { syncChosen(); }
  });
  syncChosen();

  var table = document.getElementById("preview-table");
  var hint = document.getElementById("preview-hint");
  var timer = null;
  function show(rows) {
    var body = table.querySelector("tbody");
    body.textContent = "";
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      var event = document.createElement("td");
      event.textContent = row.event_name + " (" + row.event + ")";
      var cell = document.createElement("td");
      var value = document.createElement(row.error ? "span" : "code");
      value.className = row.error ? "error" : "preview-url";
      value.textContent = row.error || row.url;
      cell.appendChild(value);
      tr.appendChild(event);
      tr.appendChild(cell);
      body.appendChild(tr);
    });
    table.hidden = rows.length === 0;
    hint.hidden = rows.length > 0;
  }
  function firstError(errors) {
    var names = Object.keys(errors || {}).filter(function (n) { return n !== "__all__"; });
    return names.length ? errors[names[0]][0] : "";
  }
  function refresh() {
    var data = new FormData(form);
    data.delete("website");
    fetch(form.dataset.previewUrl, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        var warning = document.getElementById("preview-warning");
        if (warning) {
          warning.textContent = (answer.ok && answer.warning) || "";
          warning.hidden = !warning.textContent;
        }
        if (answer.ok) {
          show(answer.preview);
        } else {
          table.hidden = true;
          hint.hidden = false;
          hint.textContent = answer.error || firstError(answer.errors) ||
            hint.dataset.emptyHint;
        }
      })
      .catch(function () { /* the Preview button still works */ });
  }
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 600);
  });
})();
