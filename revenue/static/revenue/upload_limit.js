// Import forms: refuse a file above the upload limit before sending it (the server refuses it too,
// from Content-Length, without reading it). No inline script (Content-Security-Policy).
(function () {
  "use strict";
  function check(input) {
    var max = parseInt(input.dataset.maxBytes, 10);
    var file = input.files && input.files[0];
    var tooLarge = Boolean(file && max && file.size > max);
    input.setCustomValidity(tooLarge ? input.dataset.limitMessage : "");
    return !tooLarge;
  }
  document.addEventListener("DOMContentLoaded", function () {
    var inputs = document.querySelectorAll("input[type=file][data-max-bytes]");
    Array.prototype.forEach.call(inputs, function (input) {
      input.addEventListener("change", function () {
        if (!check(input)) {
          input.reportValidity();
        }
      });
      if (input.form) {
        input.form.addEventListener("submit", function (event) {
          if (!check(input)) {
            event.preventDefault();
            input.reportValidity();
          }
        });
      }
    });
  });
})();
