// The export page's "Select all" toggle (templates/admin/import_export/export.html), bound here rather
// than in an inline onchange attribute, which the Content-Security-Policy refuses.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("input.select-toggle").forEach((toggle) => {
    toggle.addEventListener("change", (event) => onSelectToggleChange(event));
  });
});
