// The template editor's placeholder buttons: each inserts its `{{ name }}` where the cursor
// was in the Subject or the text (the text when neither had the cursor), then lets the
// preview follow as if it had been typed. No inline script: the page's CSP allows none.
(function () {
  "use strict";
  var last = null;
  document.addEventListener("focusin", function (event) {
    var field = event.target;
    if (field && (field.id === "source" || field.id === "subject")) { last = field; }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-insert]") : null;
    if (!button) { return; }
    var field = last || document.getElementById("source");
    if (!field) { return; }
    var text = button.getAttribute("data-insert");
    var start = field.selectionStart === null ? field.value.length : field.selectionStart;
    var end = field.selectionEnd === null ? start : field.selectionEnd;
    field.setRangeText(text, start, end, "end");
    field.focus();
    field.dispatchEvent(new Event("input", { bubbles: true }));
  });
})();
