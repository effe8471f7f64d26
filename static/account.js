// The account page: change the password, create and revoke one's own API keys.
// $ and the other helpers come from common.js, loaded first.
"use strict";

const json = (method, body) => ({
  method,
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify(body),
});

async function message(response) {
  try {
    return (await response.json()).error.message;
  } catch {
    return `HTTP ${response.status}`;
  }
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text || "";
  return td;
}

async function refreshKeys() {
  const response = await fetch("/api/account/keys");
  if (!response.ok) return;
  const { keys } = await response.json();
  $("key-list").replaceChildren(...keys.map((key) => {
    const row = document.createElement("tr");
    row.append(cell(key.prefix), cell(key.name), cell(key.created_at.slice(0, 10)),
      cell(key.revoked_at ? "revoked" : (key.last_used_at || "never").slice(0, 16)));
    const action = document.createElement("td");
    if (!key.revoked_at) {
      const button = document.createElement("button");
      button.textContent = "Revoke";
      button.addEventListener("click", async () => {
        await fetch(`/api/account/keys/${encodeURIComponent(key.prefix)}`, { method: "DELETE" });
        refreshKeys();
      });
      action.append(button);
    }
    row.append(action);
    return row;
  }));
}

$("key-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch("/api/account/keys", json("POST", { name: $("key-name").value }));
  const shown = $("new-key");
  shown.hidden = false;
  shown.textContent = response.ok
    ? `Your new key (copy it now, it is not shown again): ${(await response.json()).key}`
    : await message(response);
  $("key-form").reset();
  refreshKeys();
});

$("password-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch("/api/account/password", json("POST", {
    current_password: $("current-password").value,
    new_password: $("new-password").value,
    keep_api_keys: $("keep-api-keys").checked,
  }));
  $("password-status").textContent = response.ok ? "Password changed." : await message(response);
  if (response.ok) location.reload();  // the page's CSRF token belonged to the old session
});

refreshKeys();
