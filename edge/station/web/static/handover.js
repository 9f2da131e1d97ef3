// The handover page: add a note of the shift (audited).
"use strict";
(function () {
  const button = document.getElementById("add-note");
  if (!button) return;
  button.addEventListener("click", async () => {
    const note = document.getElementById("note").value.trim();
    if (!note) return;
    const r = await Siaga.post("/api/handover/note", { note });
    if (r.ok) window.location.reload();
  });
})();
