// The account page: change the password, create and revoke one's own API keys.
import { api } from "./api.js";
import { $, el, toast } from "./dom.js";

const cell = (text) => el("td", {}, text || "");

async function refreshKeys() {
  let keys;
  try {
    ({ keys } = await api("/api/account/keys"));
  } catch (error) {
    toast(error.message, "error");
    return;
  }
  $("key-list").replaceChildren(...keys.map((key) => {
    const action = el("td");
    if (!key.revoked_at) {
      const button = el("button", { type: "button" }, "Revoke");
      button.addEventListener("click", async () => {
        try {
          await api(`/api/account/keys/${encodeURIComponent(key.prefix)}`, { method: "DELETE" });
        } catch (error) {
          toast(error.message, "error");
        }
        refreshKeys();
      });
      action.append(button);
    }
    return el("tr", {}, cell(key.prefix), cell(key.name), cell(key.created_at.slice(0, 10)),
      cell(key.revoked_at ? "revoked" : (key.last_used_at || "never").slice(0, 16)), action);
  }));
}

$("key-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const shown = $("new-key");
  try {
    const { key } = await api("/api/account/keys", { method: "POST", json: { name: $("key-name").value } });
    shown.textContent = `Your new key (copy it now, it is not shown again): ${key}`;
    $("key-form").reset();
  } catch (error) {
    shown.textContent = error.message;
  }
  shown.hidden = false; // once it says something, not empty while the key is made
  refreshKeys();
});

$("password-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("/api/account/password", {
      method: "POST",
      json: {
        current_password: $("current-password").value,
        new_password: $("new-password").value,
        keep_api_keys: $("keep-api-keys").checked,
      },
    });
  } catch (error) {
    $("password-status").textContent = error.message;
    return;
  }
  $("password-status").textContent = "Password changed.";
  location.reload(); // the page's CSRF token belonged to the old session
});

refreshKeys();
