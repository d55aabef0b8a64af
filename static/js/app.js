// vpcepadmin: progressive enhancements only; every page works without JavaScript.
(function () {
  "use strict";
  // Copy buttons: <button data-copy="text">. The page works without them.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button || !navigator.clipboard) { return; }
    navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
      var label = button.querySelector(".copy-label");
      if (label) {
        var previous = label.textContent;
        label.textContent = "Copied";
        setTimeout(function () { label.textContent = previous; }, 1500);
      }
    });
  });
  // Buttons marked data-js-only are hidden in the markup and shown when scripts run.
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-js-only]").forEach(function (el) { el.hidden = false; });
    document.querySelectorAll("[data-nojs-only]").forEach(function (el) { el.hidden = true; });
  });
})();
