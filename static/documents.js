// The documents page: collections, drag-and-drop uploads with progress, add by URL, sources
// kept in sync (sources.js), live status from the document events, delete, retry, filter by
// status, one page of 100 at a time.
import { api, errorText, request } from "./api.js";
import { assistantPanel, deleteCollection } from "./collections.js";
import { $, el, formatBytes, toast } from "./dom.js";
import { onDocumentEvent } from "./events.js";
import { documentName, fileName } from "./names.js";
import { initSources, showSources } from "./sources.js";
import { stageText } from "./stages.js";
import { uploadFile, uploadFlow } from "./upload.js";

const PAGE_SIZE = 100;
const STATUSES = ["all", "queued", "processing", "ready", "failed"];
const view = { collection: localStorage.getItem("collection") || "default", status: "all", offset: 0 };
const rows = new Map(); // document id -> {row, doc, status, progress}
let collections = [];

async function loadCollections() {
  try {
    ({ collections } = await api("/api/collections"));
  } catch (error) {
    toast(error.message, "error");
    return;
  }
  if (!collections.some((c) => c.name === view.collection)) view.collection = "default";
  $("collection").replaceChildren(...collections.map((c) => el("option", { value: c.name }, `${c.name} (${c.document_count})`)));
  $("collection").value = view.collection;
  showDeleteButton();
}

// Offered only where the server would allow it (the collection's owner, or an admin).
function showDeleteButton() {
  const button = $("delete-collection");
  if (!button) return;
  const shown = collections.find((c) => c.name === view.collection);
  button.hidden = !(shown && shown.can_delete);
  if (shown) button.setAttribute("aria-label", `Delete collection ${shown.name}`);
  const settings = $("assistant-settings");
  if (settings) settings.hidden = !(shown && shown.can_configure);
  if (assistant) assistant.close(); // it showed another collection's settings
}

async function loadDocuments() {
  const params = new URLSearchParams({ collection: view.collection, limit: String(PAGE_SIZE), offset: String(view.offset) });
  if (view.status !== "all") params.set("status", view.status);
  let data;
  try {
    data = await api(`/api/documents?${params}`);
  } catch (error) {
    toast(error.message, "error");
    return;
  }
  rows.clear();
  const list = $("document-list");
  list.replaceChildren(...data.documents.map((doc) => documentRow(doc)));
  if (!data.documents.length) {
    list.append(el("li", { class: "muted empty" }, view.status === "all" ? "No documents in this collection yet: drop some files above." : `No ${view.status} documents.`));
  }
  renderFilters(data.counts || {});
  const total = view.status === "all" ? Object.values(data.counts || {}).reduce((a, b) => a + b, 0) : (data.counts || {})[view.status] || 0;
  $("page-info").textContent = total ? `${view.offset + 1}–${view.offset + data.documents.length} of ${total}` : "";
  $("prev-page").disabled = view.offset === 0;
  $("next-page").disabled = view.offset + data.documents.length >= total;
}

function renderFilters(counts) {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  $("status-filter").replaceChildren(...STATUSES.map((status) => {
    const n = status === "all" ? total : counts[status] || 0;
    const button = el("button", { type: "button", class: "filter", "aria-pressed": String(view.status === status) }, `${status} (${n})`);
    button.addEventListener("click", () => { view.status = status; view.offset = 0; loadDocuments(); });
    return button;
  }));
}

function statusText(doc) {
  if (doc.status === "ready") return "Ready";
  if (doc.status === "failed") return `Failed: ${doc.error || "the document could not be read"}`;
  if (doc.status === "processing") return "Processing…";
  return "Waiting to be processed…";
}

function documentRow(doc) {
  const name = documentName(doc.title, doc.source);
  const details = [];
  if (doc.status === "ready") details.push(`${doc.chunk_count} passage${doc.chunk_count === 1 ? "" : "s"}`);
  if (doc.page_count) details.push(`${doc.page_count} page${doc.page_count === 1 ? "" : "s"}`);
  if (doc.size_bytes) details.push(formatBytes(doc.size_bytes));
  details.push(new Date(doc.created_at).toLocaleDateString());
  const status = el("span", { class: `status ${doc.status}` }, statusText(doc));
  const open = el("a", { href: `/api/documents/${doc.id}/file`, target: "_blank", rel: "noopener", class: "doc-title" }, name.title);
  const actions = el("span", { class: "row-actions" });
  if (doc.status === "failed") {
    const retry = el("button", { type: "button" }, "Retry");
    retry.addEventListener("click", () => retryDocument(doc, retry));
    actions.append(retry);
  }
  const remove = el("button", { type: "button", class: "danger-link", "aria-label": `Delete ${name.title}` }, "Delete");
  remove.addEventListener("click", () => deleteDocument(doc, name.title));
  actions.append(remove);
  const progress = el("progress", { max: "1", hidden: doc.status !== "processing", "aria-label": `Processing ${name.title}` });
  const row = el("li", { class: "document", "data-status": doc.status, "data-id": doc.id },
    el("div", { class: "doc-main" }, open, name.file ? el("span", { class: "muted file" }, name.file) : null,
      el("span", { class: "muted details" }, details.join(" · "))),
    el("div", { class: "doc-state" }, status, progress), actions);
  rows.set(doc.id, { row, doc, status, progress });
  return row;
}

async function deleteDocument(doc, title) {
  if (!confirm(`Delete “${title}” and everything learned from it? Answers will no longer cite it.`)) return;
  try {
    await api(`/api/documents/${doc.id}`, { method: "DELETE" });
  } catch (error) {
    toast(error.message, "error");
    return;
  }
  toast(`Deleted ${title}.`);
  loadDocuments();
  loadCollections();
}

// Retry: submit the stored original again (a URL is fetched anew), then drop the failed copy.
async function retryDocument(doc, button) {
  button.disabled = true;
  try {
    let body;
    if (/^https?:\/\//.test(doc.source)) {
      await api(`/api/documents/${doc.id}`, { method: "DELETE" });
      body = await api("/api/documents", { method: "POST", json: { url: doc.source, collection: doc.collection } });
    } else {
      const response = await request(`/api/documents/${doc.id}/file`);
      if (!response.ok) throw new Error(await errorText(response));
      const file = new File([await response.blob()], fileName(doc.source), { type: doc.media_type });
      await api(`/api/documents/${doc.id}`, { method: "DELETE" });
      body = await uploadFile(file, doc.collection);
    }
    toast(`Trying ${documentName(body.document.title, body.document.source).title} again.`);
  } catch (error) {
    toast(error.message, "error");
    button.disabled = false;
  }
  loadDocuments();
}

// A document event: update its row where it is shown.
function applyEvent(data) {
  const shown = rows.get(data.id);
  if (data.type === "progress") {
    if (shown) {
      shown.progress.hidden = false;
      if (data.total) shown.progress.value = data.done / data.total;
      shown.status.textContent = stageText(data);
    }
    return;
  }
  if (shown) shown.row.replaceWith(documentRow({ ...shown.doc, ...data }));
  scheduleReload(); // the counts per status, and a new document on this page
}

let reloadTimer = null;
function scheduleReload() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(loadDocuments, 300);
}

function showCollection(name) {
  view.collection = name;
  localStorage.setItem("collection", name);
  view.offset = 0;
  showDeleteButton();
  if ($("synced-panel")) showSources(name);
  loadDocuments();
}

$("collection").addEventListener("change", (event) => showCollection(event.target.value));

// Readers get no upload controls (the server leaves them out of the page).
const assistant = $("assistant-panel") ? assistantPanel(() => view.collection) : null;
if ($("drop-zone")) {
  const upload = uploadFlow($("upload-list"), { onStored: (doc) => applyEvent({ type: "status", ...doc }) });
  const uploadFiles = async (files) => {
    await upload(files, view.collection);
    loadCollections();
  };
  const zone = $("drop-zone");
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (event) => { event.preventDefault(); zone.classList.add("over"); });
  }
  for (const type of ["dragleave", "drop"]) zone.addEventListener(type, () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer.files.length) uploadFiles(event.dataTransfer.files);
  });
  $("file-input").addEventListener("change", (event) => {
    if (event.target.files.length) uploadFiles(event.target.files);
    event.target.value = "";
  });
  $("url-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = $("url-status");
    status.className = "";
    status.textContent = "Fetching…";
    try {
      const { document: doc } = await api("/api/documents", { method: "POST", json: { url: $("url-input").value, collection: view.collection } });
      status.textContent = `Added ${documentName(doc.title, doc.source).title}.`;
      $("url-input").value = "";
      applyEvent({ type: "status", ...doc });
    } catch (error) {
      status.className = "error";
      status.textContent = error.message;
    }
  });
  $("new-collection").addEventListener("click", () => {
    $("new-collection-form").hidden = false;
    $("new-collection-name").focus();
  });
  $("new-collection-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("new-collection-name").value.trim();
    try {
      await api("/api/collections", { method: "POST", json: { name } });
    } catch (error) {
      toast(error.message, "error");
      return;
    }
    $("new-collection-form").hidden = true;
    $("new-collection-name").value = "";
    view.collection = name;
    await loadCollections();
    showCollection(name);
  });
  $("delete-collection").addEventListener("click", async () => {
    const name = view.collection;
    const shown = collections.find((c) => c.name === name);
    try {
      if (!(await deleteCollection(name, shown ? shown.document_count : 0))) return;
    } catch (error) {
      toast(error.message, "error");
      return;
    }
    toast(`Deleted the collection ${name}.`);
    await loadCollections();
    showCollection(view.collection);
  });
}
$("prev-page").addEventListener("click", () => { view.offset = Math.max(0, view.offset - PAGE_SIZE); loadDocuments(); });
$("next-page").addEventListener("click", () => { view.offset += PAGE_SIZE; loadDocuments(); });

onDocumentEvent(applyEvent);
loadCollections().then(() => {
  loadDocuments();
  // Editors and admins: a sync that ends (or a source deleted) changes the list and the counts.
  if ($("synced-panel")) initSources(view.collection, () => { loadDocuments(); loadCollections(); });
});
