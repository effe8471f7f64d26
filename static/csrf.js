// Every same-site change (POST, PUT, PATCH, DELETE) carries the session's CSRF token, which the
// server compares with the one it stored for the session. Loaded before the page's own scripts;
// XMLHttpRequest (upload progress) sets the header itself from window.csrfToken.
"use strict";

(() => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const token = meta ? meta.content : null;
  window.csrfToken = token;
  const plain = window.fetch.bind(window);
  window.fetch = (resource, init = {}) => {
    const method = (init.method || "GET").toUpperCase();
    const url = new URL(resource instanceof Request ? resource.url : resource, location.href);
    if (token && url.origin === location.origin && !["GET", "HEAD", "OPTIONS"].includes(method)) {
      const headers = new Headers(init.headers || {});
      headers.set("X-CSRF-Token", token);
      init = { ...init, headers };
    }
    return plain(resource, init);
  };
  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("logout-button");
    if (!button) return;
    button.addEventListener("click", async () => {
      await fetch("/api/auth/logout", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      location.href = "/login";
    });
  });
})();
