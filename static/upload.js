// Uploading many files at once, each with its own progress bar (XMLHttpRequest reports upload
// progress; fetch does not), then ingestion progress fed by /api/documents/events.
"use strict";

// Upload one file; onProgress(fraction) as bytes leave; resolves to the JSON answer.
function uploadFile(file, collection, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/documents");
    if (window.csrfToken) xhr.setRequestHeader("X-CSRF-Token", window.csrfToken); // see csrf.js
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.response);
      else reject(new Error((xhr.response && xhr.response.error && xhr.response.error.message) || `HTTP ${xhr.status}`));
    });
    xhr.addEventListener("error", () => reject(new Error("the connection was lost during the upload")));
    const body = new FormData();
    body.append("file", file);
    if (collection) body.append("collection", collection);
    xhr.send(body);
  });
}

const STAGE_NAMES = { parse: "Reading", chunk: "Splitting", embed: "Indexing", queued: "Waiting", processing: "Processing" };

// One row of the upload list: name, a progress bar and a line saying what happens.
function uploadRow(name) {
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

// Listen to document events; handler(type, data). Reconnects by itself (EventSource does).
function documentEvents(handler) {
  const source = new EventSource("/api/documents/events");
  for (const type of ["status", "progress"]) {
    source.addEventListener(type, (event) => handler(type, JSON.parse(event.data)));
  }
  return source;
}
