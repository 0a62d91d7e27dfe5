// circlemail: the pages work without this script; it only adds conveniences, each hooked to a
// data- attribute. No inline script anywhere (the Content-Security-Policy forbids it).
"use strict";
(function () {
  var meta = document.querySelector('meta[name="csrf-token"]');
  // The token for requests this script makes (sent as X-CSRF-Token).
  window.circlemail = { csrf: meta ? meta.content : "" };

  // <button data-confirm="Really?">: asks before submitting its form.
  document.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("[data-confirm]") : null;
    if (b && !window.confirm(b.getAttribute("data-confirm"))) {
      e.preventDefault();
    }
  });
})();
