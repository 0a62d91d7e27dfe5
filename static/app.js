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

  // <button data-confirm="Really?">: asks before submitting its form.
  document.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("[data-confirm]") : null;
    if (b && !window.confirm(b.getAttribute("data-confirm"))) {
      e.preventDefault();
    }
  });
})();
