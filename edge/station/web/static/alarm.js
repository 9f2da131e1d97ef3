// An alarm's detail page: acknowledge and close with a note (the API, with CSRF).
"use strict";
(function () {
  const T = JSON.parse(document.getElementById("words").textContent);
  const main = document.getElementById("alarm");
  const id = main.dataset.alarmId;
  const error = document.getElementById("action-error");
  async function act(what) {
    const note = document.getElementById("note").value;
    if (what === "close" && !note.trim()) {
      error.textContent = T.close_needs_note;
      error.hidden = false;
      return;
    }
    const r = await Siaga.post(`/api/alarms/${encodeURIComponent(id)}/${what}`, { note });
    if (r.ok) {
      window.location.reload();
    } else {
      const body = await r.json().catch(() => ({}));
      error.textContent = body.error || String(r.status);
      error.hidden = false;
    }
  }
  const ack = document.getElementById("do-ack");
  const close = document.getElementById("do-close");
  if (ack) ack.addEventListener("click", () => act("ack"));
  if (close) close.addEventListener("click", () => act("close"));
})();
