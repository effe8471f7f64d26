// Uploading a file whose name is already in the collection: ask whether it replaces that
// document (only its changed passages are read again) or is kept beside it. One question at a
// time, however many files were dropped together.
import { api } from "./api.js";
import { el } from "./dom.js";

const title = el("h2", { id: "replace-title" });
const detail = el("p", { class: "hint" });
const dialog = el("dialog", { id: "replace-dialog", class: "dialog", "aria-labelledby": "replace-title" },
  el("form", { method: "dialog" },
    title,
    detail,
    el("div", { class: "dialog-actions" },
      el("button", { value: "cancel" }, "Cancel"),
      el("button", { value: "keep", id: "replace-keep" }, "Keep both"),
      el("button", { value: "replace", class: "primary", id: "replace-confirm" }, "Replace the existing document"))));

let queue = Promise.resolve();

/** The upload (not synced) document named `name` in `collection`, or null (also when the
 * question cannot be asked: the upload then goes on as it always did). */
export async function sameName(name, collection) {
  const params = new URLSearchParams({ collection: collection || "default", uploaded_as: name, limit: "1" });
  try {
    const { documents } = await api(`/api/documents?${params}`);
    return documents.find((doc) => doc.source === name) || null;
  } catch {
    return null;
  }
}

function ask(name, collection) {
  title.textContent = `“${name}” is already in “${collection}”`;
  detail.textContent = "Replace it: answers will cite the new version, and only the passages that changed are read again. Or keep both as separate documents.";
  dialog.returnValue = "";
  if (!dialog.isConnected) document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue || "cancel"), { once: true });
    dialog.showModal();
    dialog.querySelector("#replace-confirm").focus();
  });
}

/** "replace", "keep" or "cancel", asked in turn when several uploads ask at once. */
export function askReplace(name, collection) {
  const answer = queue.then(() => ask(name, collection || "default"));
  queue = answer;
  return answer;
}
