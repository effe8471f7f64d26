// The upload flow, the same on the chat and the documents pages: many files at once, each with
// its own progress bar (XMLHttpRequest reports upload progress; fetch does not), then its
// ingestion progress from the document events until it is ready or has failed. A file whose name
// is already in the collection asks first: replace that document, or keep both (replace.js).

import { csrfToken, errorTextOf } from "./api.js";
import { el } from "./dom.js";
import { onDocumentEvent } from "./events.js";
import { askReplace, sameName } from "./replace.js";
import { stageText } from "./stages.js";

/** Upload one file; onProgress(fraction) as bytes leave; resolves to the JSON answer. With
 * `replace`, the form field replace=true: it takes the place of the upload of the same name. */
export function uploadFile(file, collection, onProgress = () => {}, { replace = false } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/documents");
    if (csrfToken) xhr.setRequestHeader("X-CSRF-Token", csrfToken);
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.response);
      else reject(new Error(errorTextOf(xhr.response, xhr.status)));
    });
    xhr.addEventListener("error", () => reject(new Error("The connection was lost during the upload.")));
    const body = new FormData();
    body.append("file", file);
    if (collection) body.append("collection", collection);
    if (replace) body.append("replace", "true");
    xhr.send(body);
  });
}

/** One row of an upload list: name, a progress bar and a line saying what happens. */
export function uploadRow(name) {
  const bar = el("progress", { max: "1", value: "0", "aria-label": `Progress of ${name}` });
  const line = el("span", { class: "upload-state" }, "Uploading…");
  const row = el("li", { class: "upload", "data-state": "uploading" }, el("span", { class: "upload-name" }, name), bar, line);
  return {
    row,
    set(state, text, fraction = null) {
      row.dataset.state = state;
      line.textContent = text;
      if (fraction === null) bar.removeAttribute("value");
      else bar.value = fraction;
    },
  };
}

const passages = (n) => `${n} passage${n === 1 ? "" : "s"}`;

/**
 * Uploads shown in `list`. Options: readyText(data) says what a ready document offers;
 * onReady(data) is told when one is; onStored(doc) when the server has a new document.
 * Returns upload(files, collection), which resolves once every file has been sent.
 */
export function uploadFlow(list, { readyText = (d) => `Ready: ${passages(d.chunk_count)}`, onReady = () => {}, onStored = () => {} } = {}) {
  const rows = new Map(); // document id -> upload row still being processed
  // Events that came before their upload's answer (a small file can be ready by then), kept
  // only while an upload is under way.
  const early = new Map(); // document id -> its last event
  let sending = 0;

  function apply(data) {
    const item = rows.get(data.id);
    if (!item) {
      if (sending) early.set(data.id, data);
      return;
    }
    if (data.type === "progress") {
      item.set("processing", stageText(data), data.total ? data.done / data.total : null);
    } else if (data.status === "ready") {
      item.set("ready", readyText(data), 1);
      rows.delete(data.id);
      onReady(data);
    } else if (data.status === "failed") {
      item.set("failed", `Failed: ${data.error || "the document could not be read"}`, 0);
      rows.delete(data.id);
    } else if (data.status === "processing") {
      item.set("processing", "Processing…", null);
    }
  }

  // Listen before uploading, so no event of these documents is missed.
  onDocumentEvent(apply);

  async function send(file, collection) {
    const item = uploadRow(file.name);
    list.prepend(item.row);
    sending += 1;
    try {
      let replace = false;
      if (await sameName(file.name, collection)) {
        item.set("asking", "Already in this collection: replace it or keep both?", 0);
        const choice = await askReplace(file.name, collection);
        if (choice === "cancel") {
          item.set("cancelled", "Not uploaded: the document already there is kept.", 0);
          return;
        }
        replace = choice === "replace";
      }
      const { document: doc, duplicate } = await uploadFile(file, collection, (f) => item.set("uploading", `Uploading… ${Math.round(f * 100)}%`, f), { replace });
      const where = `“${doc.collection || collection || "default"}”`;
      if (duplicate && doc.status === "ready") {
        item.set("ready", `Already in ${where}`, 1);
        return;
      }
      if (duplicate && doc.status === "failed") {
        item.set("failed", `Already in ${where}, where it failed: ${doc.error || "it could not be read"}`, 0);
        return;
      }
      // New, or the same file still being processed: follow it until it is ready.
      rows.set(doc.id, item);
      const queued = replace ? "Replacing the document of the same name; waiting to be processed…" : "Uploaded; waiting to be processed…";
      item.set("queued", duplicate ? `Already in ${where}; being processed…` : queued, 0);
      if (!duplicate) onStored(doc);
      apply({ type: "status", ...doc });
      if (early.has(doc.id)) apply(early.get(doc.id));
      early.delete(doc.id);
    } catch (error) {
      item.set("failed", error.message, 0);
    } finally {
      sending -= 1;
      if (!sending) early.clear();
    }
  }

  return (files, collection) => Promise.all([...files].map((file) => send(file, collection)));
}
