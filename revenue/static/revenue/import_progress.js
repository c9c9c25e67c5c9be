// Background import page: poll the job's progress JSON and update the bar; reload once it has finished
// so the final counts and row errors are rendered by the server. No inline script (Content-Security-Policy).
(function () {
  "use strict";
  var root = document.querySelector(".bb-import-job");
  if (!root || root.dataset.finished === "true") {
    return;
  }
  var url = root.dataset.progressUrl;
  var startedAt = Date.now();
  var maxPollMs = 6 * 60 * 60 * 1000; // stop polling after six hours; a reload resumes it
  function setText(id, value) {
    var node = document.getElementById(id);
    if (node) {
      node.textContent = value;
    }
  }
  function show(data) {
    var bar = document.getElementById("import-progress");
    bar.value = data.percent;
    bar.textContent = data.percent + "%";
    setText("import-percent", data.percent + "%");
    setText("import-status-label", data.status_label);
    setText("import-phase", data.phase && !data.finished ? " · " + data.phase : "");
    setText("import-rows-done", data.rows_done);
    setText("import-total-rows", data.total_rows === null ? "…" : data.total_rows);
    setText("import-booked", data.booked);
    setText("import-skipped", data.skipped);
    setText("import-error-count", data.error_count);
    setText("import-message", data.message);
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        show(data);
        if (data.finished) {
          window.location.reload();
        } else if (Date.now() - startedAt < maxPollMs) {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        setText("import-message", "Progress could not be read just now; retrying…");
        if (Date.now() - startedAt < maxPollMs) {
          window.setTimeout(poll, 5000);
        }
      });
  }
  window.setTimeout(poll, 500);
})();
