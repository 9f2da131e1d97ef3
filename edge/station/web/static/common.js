// Shared by every page of the board: the CSRF-carrying POST, logout, print.
"use strict";
const Siaga = {
  csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  },
  async post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "X-CSRF-Token": Siaga.csrf(),
        "X-Requested-With": "siaga-board",
      },
      body: JSON.stringify(body || {}),
    });
    if (response.status === 401) {
      window.location = "/login?next=" + encodeURIComponent(window.location.pathname);
    }
    return response;
  },
  esc(value) {
    return String(value === null || value === undefined ? "" : value)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  },
  hms(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toLocaleTimeString("en-GB", { hour12: false });
  },
};
document.addEventListener("DOMContentLoaded", () => {
  const out = document.getElementById("logout");
  if (out) {
    out.addEventListener("click", async () => {
      await Siaga.post("/logout", {});
      window.location = "/login";
    });
  }
  for (const button of document.querySelectorAll("button.print")) {
    button.addEventListener("click", () => window.print());
  }
});
