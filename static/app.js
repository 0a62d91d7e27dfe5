// circlemail: the pages work without this script; it only adds conveniences, each hooked to a
// data- attribute. No inline script anywhere (the Content-Security-Policy forbids it).
"use strict";
(function () {
  var meta = document.querySelector('meta[name="csrf-token"]');
  // The token for requests this script makes (sent as X-CSRF-Token).
  window.circlemail = { csrf: meta ? meta.content : "" };

  // <form data-rule-count="URL">: the rule editor; the match count follows the rule as it
  // changes (the "Count" button does the same without this script).
  document.querySelectorAll("form[data-rule-count]").forEach(function (form) {
    var out = document.getElementById("rule-count");
    var timer = null, seq = 0;
    function update() {
      var mine = ++seq;
      var body = new URLSearchParams(new FormData(form));
      fetch(form.getAttribute("data-rule-count"), {
        method: "POST",
        headers: { "Accept": "application/json", "X-CSRF-Token": window.circlemail.csrf,
                   "Content-Type": "application/x-www-form-urlencoded" },
        body: body.toString(),
        credentials: "same-origin"
      }).then(function (r) { return r.json(); }).then(function (j) {
        if (mine !== seq || !out) { return; }
        out.textContent = j.error ? j.error : j.text;
        out.setAttribute("data-matches", j.error ? "" : String(j.matches));
      }).catch(function () {});
    }
    function later() { clearTimeout(timer); timer = setTimeout(update, 300); }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
  });

  // <progress data-progress="/admin/import/ID/progress">: follows a check or an import that is
  // under way, and reloads the page when it is over (without the script, the page reloads
  // itself every two seconds).
  var bar = document.querySelector("progress[data-progress]");
  if (bar && window.fetch) {
    var url = bar.getAttribute("data-progress");
    var label = document.getElementById(bar.getAttribute("aria-describedby") || "");
    var tick = function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) { return; }
          bar.max = s.total_bytes || 1;
          bar.value = s.read_bytes || 0;
          if (label) {
            label.textContent = Math.floor(100 * bar.value / bar.max) + " %";
          }
          if (s.state === "checking" || s.state === "running") {
            window.setTimeout(tick, 500);
          } else {
            window.location.reload();
          }
        })
        .catch(function () { window.setTimeout(tick, 2000); });
    };
    window.setTimeout(tick, 300);
  }

  // <button data-confirm="Really?">: asks before submitting its form.
  document.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("[data-confirm]") : null;
    if (b && !window.confirm(b.getAttribute("data-confirm"))) {
      e.preventDefault();
    }
  });
})();
