// The enroll form's "Completed at": how long ago its time was set ("set 2 min ago"), so a
// form left open is noticed. A file, not inline: the pages' Content-Security-Policy.
// The words are web/enroll_clock.py's age_words.
(function () {
  "use strict";
  var note = document.getElementById("f-completed_at-age");
  var field = document.getElementById("f-completed_at");
  if (!note || !field) {
    return;
  }
  var setAt = Date.now() - 1000 * Number(note.getAttribute("data-age") || 0);
  function words(seconds) {
    var minutes = Math.floor(seconds / 60);
    if (minutes < 1) {
      return "set just now";
    }
    if (minutes < 60) {
      return "set " + minutes + " min ago";
    }
    var rest = minutes % 60;
    return "set " + Math.floor(minutes / 60) + " h" + (rest ? " " + rest + " min" : "") + " ago";
  }
  function show() {
    note.textContent = words((Date.now() - setAt) / 1000);
  }
  field.addEventListener("input", function () {
    setAt = Date.now();
    show();
  });
  show();
  setInterval(show, 15000);
})();
