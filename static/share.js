// Share and export a conversation from the chat page: a Share button beside Rename and Delete
// on each conversation, opening a dialog that makes a read-only link (optionally expiring, or
// public where the site allows), copies it, revokes the conversation's links, and downloads
// the conversation as Markdown or JSON. On its own beside chat/: it only watches the list.
import { api } from "./api.js";
import { el, icon } from "./dom.js";

// The page says whether this site allows public links (PUBLIC_SHARE_LINKS).
const script = document.querySelector("script[data-public-links]");
const publicAllowed = script !== null && script.dataset.publicLinks === "true";
let current = null; // {id, title} of the conversation the dialog is about

const expiry = el("select", { id: "share-expiry" },
  el("option", { value: "" }, "until revoked"),
  el("option", { value: "1" }, "1 day"),
  el("option", { value: "7" }, "7 days"),
  el("option", { value: "30" }, "30 days"));
const publicBox = el("input", { type: "checkbox", id: "share-public" });
const url = el("input", { type: "text", id: "share-url", readonly: true, "aria-label": "Share link" });
const copy = el("button", { type: "button", id: "share-copy" }, "Copy");
const result = el("div", { class: "share-result", id: "share-result", hidden: true }, url, copy);
const status = el("p", { id: "share-status", role: "status", class: "muted" });
const live = el("p", { id: "share-live", class: "muted" });
const create = el("button", { type: "button", id: "share-create", class: "primary" }, "Create link");
const revoke = el("button", { type: "button", id: "share-revoke", class: "danger-link" }, "Revoke this conversation's links");
const markdown = el("a", { id: "export-md", download: "" }, "Markdown");
const json = el("a", { id: "export-json", download: "" }, "JSON");
const title = el("h2", { id: "share-title" });
const dialog = el("dialog", { id: "share-dialog", class: "share-dialog", "aria-labelledby": "share-title" },
  el("form", { method: "dialog" },
    title,
    el("p", { class: "hint" }, "A read-only copy of the conversation as it is now; later questions do not show. "
      + (publicAllowed ? "Viewers sign in unless you make the link public." : "Viewers must be signed in.")
      + " Each cited passage opens only for viewers who may read its document."),
    el("div", { class: "share-options" },
      el("label", {}, "Link works ", expiry),
      publicAllowed ? el("label", {}, publicBox, " anyone with the link, without signing in") : null),
    live,
    el("div", { class: "share-actions" }, create, revoke),
    result,
    status,
    el("p", {}, "Export this conversation: ", markdown, " · ", json),
    el("div", { class: "share-close" }, el("button", { value: "close" }, "Close"))));

function open(conversation) {
  current = conversation;
  title.textContent = `Share “${conversation.title}”`;
  result.hidden = true;
  status.textContent = "";
  markdown.href = `/api/conversations/${conversation.id}/export?format=md`;
  json.href = `/api/conversations/${conversation.id}/export?format=json`;
  if (!dialog.isConnected) document.body.append(dialog);
  dialog.showModal();
  showLive();
}

async function showLive() {
  try {
    const { links } = await api(`/api/conversations/${current.id}/share`);
    live.textContent = links.length === 0 ? "Not shared: no link works now."
      : `${links.length} link${links.length > 1 ? "s" : ""} work${links.length > 1 ? "" : "s"} now`
        + (links.some((l) => l.public) ? ", public to anyone with it." : ", for signed-in users.");
  } catch (error) {
    live.textContent = error.message;
  }
}

create.addEventListener("click", async () => {
  const body = {};
  if (expiry.value) body.expires_in_days = Number(expiry.value);
  if (publicAllowed && publicBox.checked) body.public = true;
  try {
    const share = await api(`/api/conversations/${current.id}/share`, { method: "POST", json: body });
    url.value = share.url;
    result.hidden = false;
    url.select();
    status.textContent = share.expires_at
      ? `Link created; it works until ${new Date(share.expires_at).toLocaleString()}.`
      : "Link created; it works until you revoke it.";
    showLive();
  } catch (error) {
    status.textContent = error.message;
  }
});
copy.addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(url.value);
    status.textContent = "Link copied.";
  } catch {
    url.select();
    status.textContent = "Select the link and copy it (your browser did not allow copying).";
  }
});
revoke.addEventListener("click", async () => {
  try {
    await api(`/api/conversations/${current.id}/share`, { method: "DELETE" });
    result.hidden = true;
    status.textContent = "Every link to this conversation is revoked.";
    showLive();
  } catch (error) {
    status.textContent = error.message;
  }
});

// chat/conversations.js renders the list: add the button to each item as it appears.
function decorate(list) {
  for (const item of list.querySelectorAll("li[data-id]")) {
    const actions = item.querySelector(".item-actions");
    if (!actions || actions.querySelector(".share")) continue;
    const link = item.querySelector("a");
    const conversation = { id: item.dataset.id, title: link ? link.textContent : "" };
    const button = el("button", { type: "button", class: "icon-button share",
      "aria-label": `Share or export “${conversation.title}”`, title: "Share or export" }, icon("share"));
    button.addEventListener("click", () => open(conversation));
    actions.prepend(button);
  }
}
const list = document.getElementById("conversation-list");
if (list) {
  decorate(list);
  new MutationObserver(() => decorate(list)).observe(list, { childList: true, subtree: true });
}
