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
  // Every POST form shows progress at once and cannot be sent twice (htmx requests: below).
  // The buttons are disabled after the browser has taken the submitter's name and value.
  var WAIT_SAYS_AFTER = 3; // seconds before "Still waiting for the cloud (N s)…"
  // A spinner and what it waits for, as the element's whole content (text, never markup).
  function waiting(el, text) {
    var spinner = document.createElement("span");
    spinner.className = "spinner-border spinner-border-sm";
    spinner.setAttribute("aria-hidden", "true");
    el.replaceChildren(spinner, document.createTextNode(" " + text));
  }
  function progress(form, submitter) {
    var status = form.querySelector("[data-progress]");
    if (!status) {
      status = document.createElement("p");
      status.className = "form-text submit-progress";
      status.setAttribute("role", "status");
      status.setAttribute("data-progress", "");
      (submitter && submitter.parentNode ? submitter.parentNode : form).after(status);
    }
    status.setAttribute("data-waiting", String(Date.now()));
    waiting(status, "Sending…");
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || (form.method || "").toLowerCase() !== "post") { return; }
    if (form.getAttribute("data-sending")) { event.preventDefault(); return; }
    form.setAttribute("data-sending", "1");
    form.setAttribute("aria-busy", "true");
    var submitter = event.submitter;
    progress(form, submitter);
    setTimeout(function () {
      form.querySelectorAll("button[type=submit], input[type=submit], button:not([type])").forEach(function (b) {
        b.disabled = true;
      });
      if (submitter) { submitter.classList.add("is-busy"); }
    }, 0);
  });
  // A page that takes a while to come (a slow cloud behind a link) says so while it comes.
  var NAVIGATION_SAYS_AFTER = 600; // ms
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[href]");
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey ||
        event.shiftKey || event.altKey || link.target || link.hasAttribute("download") ||
        link.hasAttribute("hx-get") || link.origin !== location.origin || link.hash) { return; }
    setTimeout(function () {
      if (document.getElementById("page-progress")) { return; }
      var note = document.createElement("div");
      note.id = "page-progress";
      note.className = "page-progress";
      note.setAttribute("role", "status");
      note.setAttribute("data-waiting", String(Date.now() - NAVIGATION_SAYS_AFTER));
      waiting(note, "Loading…");
      document.body.appendChild(note);
    }, NAVIGATION_SAYS_AFTER);
  });
  // Back to a page kept by the browser: its forms can be sent again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    var note = document.getElementById("page-progress");
    if (note) { note.remove(); }
    document.querySelectorAll("form[data-sending]").forEach(function (form) {
      form.removeAttribute("data-sending");
      form.removeAttribute("aria-busy");
      form.querySelectorAll("button, input[type=submit]").forEach(function (b) { b.disabled = false; });
      form.querySelectorAll("[data-progress]").forEach(function (el) { el.remove(); });
    });
  });
  // Waiting for the cloud: each [data-waiting] says how long, once it takes a while.
  setInterval(function () {
    document.querySelectorAll("[data-waiting]").forEach(function (el) {
      var since = Number(el.getAttribute("data-waiting")) || Date.now();
      if (!el.getAttribute("data-waiting")) { el.setAttribute("data-waiting", String(since)); }
      var seconds = Math.floor((Date.now() - since) / 1000);
      if (seconds < WAIT_SAYS_AFTER) { return; }
      var text = el.querySelector("[data-waiting-text]");
      var said = "Still waiting for the cloud (" + seconds + " s)…";
      if (text) { text.textContent = said; } else { waiting(el, said); }
    });
  }, 1000);
  // htmx: the control that sent a request is disabled and busy until its answer is in.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.matches("button, input[type=submit]")) {
      elt.disabled = true;
      elt.classList.add("is-busy");
    }
    if (elt && elt.name === "action" && /^remove:\d+$/.test(elt.value || "")) {
      removedRow = Number(elt.value.split(":")[1]);
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.isConnected && elt.matches("button, input[type=submit]")) {
      elt.disabled = false;
      elt.classList.remove("is-busy");
    }
  });
  // After "Remove", focus goes to the row that took its place, else to "Add port mapping"; after
  // an answer with errors, to its error summary.
  var removedRow = null;
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    var summary = document.querySelector("[data-error-summary]");
    if (summary && target && target.contains(summary)) { summary.focus(); return; }
    if (removedRow === null) { return; }
    var next = document.getElementById("id_ports-" + removedRow + "-client_port") ||
      document.getElementById("id_ports-" + (removedRow - 1) + "-client_port");
    var add = document.querySelector("button[value=add_row]");
    removedRow = null;
    (next || add || document.getElementById("port-mappings")).focus();
  });
  // A page that opens with an error summary puts the focus on it (autofocus may have been taken).
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector("[data-error-summary]");
    if (summary) { summary.focus(); }
  });
  // Buttons marked data-js-only are hidden in the markup and shown when scripts run.
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-js-only]").forEach(function (el) { el.hidden = false; });
    document.querySelectorAll("[data-nojs-only]").forEach(function (el) { el.hidden = true; });
  });
})();
