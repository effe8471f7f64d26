// The documents page's sources: add one (a form per kind), the list with what each last sync
// did and when the next comes, sync now, pause or resume, delete with or without its documents.
// A sync's progress shows live: each document it stores sends a document event.
import { api } from "./api.js";
import { $, el, toast } from "./dom.js";
import { onDocumentEvent } from "./events.js";

const KINDS = { folder: "Folder", web: "Website", s3: "S3 bucket" };
const COUNTS = ["added", "changed", "removed", "unchanged"];
const POLL_MS = 1500; // while a sync is under way
const IDLE_POLL_MS = 30000; // while one is scheduled: its start, and "in 5 minutes" kept true
const view = { collection: "default", sources: [], busy: new Set(), stored: new Map(), onSynced: () => {} };
let pollTimer = null;
let refreshTimer = null;

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** "5 minutes ago", "in 2 hours" in a <time> whose title is the exact date. */
function when(iso) {
  const seconds = (new Date(iso) - Date.now()) / 1000;
  const size = Math.abs(seconds);
  let text;
  if (size < 45) text = seconds < 0 ? "just now" : "in a moment";
  else if (size < 3600) text = relative.format(Math.round(seconds / 60), "minute");
  else if (size < 86400) text = relative.format(Math.round(seconds / 3600), "hour");
  else text = relative.format(Math.round(seconds / 86400), "day");
  return el("time", { datetime: iso, title: new Date(iso).toLocaleString() }, text);
}

function every(minutes) {
  if (!minutes) return "synced when asked";
  if (minutes % 1440 === 0) return minutes === 1440 ? "synced every day" : `synced every ${minutes / 1440} days`;
  if (minutes % 60 === 0) return minutes === 60 ? "synced every hour" : `synced every ${minutes / 60} hours`;
  return `synced every ${plural(minutes, "minute")}`;
}

// A sync waiting for its scheduled time is not under way; one due now (or running) is.
function syncing(source) {
  if (source.sync_status === "running") return true;
  return source.sync_status === "queued" && (!source.next_sync_at || new Date(source.next_sync_at) <= Date.now() + 1000);
}

// Where a source reads from, as people recognise it; never a secret (those are write-only).
function location(source) {
  const settings = source.settings || {};
  return source.kind === "folder" ? settings.path : settings.url || "";
}

function statusOf(source) {
  if (syncing(source)) return ["syncing", source.sync_status === "running" ? "Syncing…" : "About to sync…"];
  if (source.paused) return ["paused", "Paused"];
  if (source.last_error) return ["failed", "Needs attention"];
  if (source.last_sync_at) return ["ready", "In sync"];
  return ["", "Not synced yet"];
}

function countsLine(source) {
  const counts = source.last_counts;
  if (!source.last_sync_at) return el("p", { class: "muted sync-when" }, "Never synced yet.");
  const line = el("p", { class: "sync-when" }, "Last sync ", when(source.last_sync_at));
  if (counts) {
    line.append(": ", el("span", { class: "sync-counts" }, ...COUNTS.flatMap((name, i) => [
      i ? " · " : "",
      el("span", { "data-count": name }, String(counts[name] ?? 0)),
      ` ${name}`,
    ])));
  }
  return line;
}

function sourceRow(source) {
  const busy = syncing(source);
  const [state, label] = statusOf(source);
  const where = [location(source), plural(source.document_count, "document"), every(source.every_minutes)]
    .filter(Boolean).join(" · ");
  const actions = el("div", { class: "row-actions" });
  const sync = el("button", { type: "button", class: "sync-now", disabled: busy, "aria-label": `Sync now: ${source.name}` }, "Sync now");
  sync.addEventListener("click", () => syncNow(source));
  actions.append(sync);
  if (source.every_minutes || source.paused) {
    const pause = el("button", { type: "button", class: "pause", "aria-label": `${source.paused ? "Resume" : "Pause"} ${source.name}` }, source.paused ? "Resume" : "Pause");
    pause.addEventListener("click", () => setPaused(source, !source.paused));
    actions.append(pause);
  }
  const remove = el("button", { type: "button", class: "danger-link delete", "aria-label": `Delete source ${source.name}` }, "Delete");
  remove.addEventListener("click", () => confirmDelete(source));
  actions.append(remove);
  const stored = view.stored.get(source.id) || 0;
  return el("li", { class: "synced", "data-id": source.id, "data-name": source.name, "data-state": state || "new" },
    el("div", { class: "synced-main" },
      el("div", { class: "synced-title" }, el("span", { class: "kind" }, KINDS[source.kind] || source.kind), el("strong", {}, source.name)),
      el("p", { class: "muted synced-where" }, where),
      countsLine(source),
      !busy && source.next_sync_at && !source.paused ? el("p", { class: "muted sync-next" }, "Next sync ", when(source.next_sync_at)) : null,
      source.last_error ? el("p", { class: "notice error sync-error" }, source.last_error) : null),
    el("div", { class: "doc-state" },
      el("span", { class: `status ${state}` }, label),
      busy ? el("progress", { "aria-label": `Syncing ${source.name}` }) : null,
      busy && stored ? el("span", { class: "muted sync-progress" }, `${plural(stored, "document")} stored so far`) : null),
    actions);
}

function render() {
  const shown = view.sources.filter((s) => s.collection === view.collection);
  const list = $("synced-sources");
  list.replaceChildren(...shown.map(sourceRow));
  if (!shown.length) {
    list.append(el("li", { class: "muted empty" }, "No sources yet: add a folder, a website or a bucket to keep this collection in step with it."));
  }
}

/** Load the sources again; keep polling while one of them syncs. */
async function refresh() {
  clearTimeout(pollTimer);
  let sources;
  try {
    ({ sources } = await api("/api/sources"));
  } catch (error) {
    toast(error.message, "error");
    return;
  }
  view.sources = sources;
  for (const source of sources) {
    if (syncing(source)) view.busy.add(source.id);
    else if (view.busy.delete(source.id)) finished(source);
  }
  render();
  clearTimeout(pollTimer); // one timer, however many looks were in flight
  if (sources.some(syncing)) pollTimer = setTimeout(refresh, POLL_MS);
  else if (sources.some((s) => s.every_minutes && !s.paused)) pollTimer = setTimeout(refresh, IDLE_POLL_MS);
}

// A sync that just ended: say what it did (documents removed send no event: reload the list).
function finished(source) {
  view.stored.delete(source.id);
  const counts = source.last_counts || {};
  if (source.last_error) toast(`${source.name}: ${source.last_error}`, "error");
  else toast(`Synced ${source.name}: ${COUNTS.map((name) => `${counts[name] ?? 0} ${name}`).join(", ")}.`);
  view.onSynced(source);
}

function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, 400);
}

async function syncNow(source) {
  let answer;
  try {
    answer = await api(`/api/sources/${source.id}/sync`, { method: "POST" });
  } catch (error) {
    toast(error.message, "error");
    return;
  }
  view.busy.add(source.id);
  view.stored.set(source.id, 0);
  // Shown as under way at once; the next look at the server says how it goes.
  const shown = view.sources.find((s) => s.id === source.id);
  if (shown) Object.assign(shown, { sync_status: answer.already_running ? "running" : "queued", next_sync_at: null });
  render();
  refresh();
}

async function setPaused(source, paused) {
  try {
    await api(`/api/sources/${source.id}`, { method: "PATCH", json: { paused } });
  } catch (error) {
    toast(error.message, "error");
    return;
  }
  toast(paused ? `Paused ${source.name}: it syncs only when asked.` : `Resumed ${source.name}.`);
  refresh();
}

// Deleting: a dialog asks whether the documents go too (the default) or stay, unsynced.
const deleteTitle = el("h2", { id: "source-delete-title" });
const deleteCount = el("p", { class: "hint" });
const dropDocuments = el("input", { type: "radio", name: "source-documents", value: "delete", id: "source-drop-documents", checked: true });
const keepDocuments = el("input", { type: "radio", name: "source-documents", value: "keep", id: "source-keep-documents" });
const deleteDialog = el("dialog", { id: "source-delete-dialog", class: "dialog", "aria-labelledby": "source-delete-title" },
  el("form", { method: "dialog" },
    deleteTitle,
    deleteCount,
    el("fieldset", { class: "choices" },
      el("legend", {}, "Its documents"),
      el("label", {}, dropDocuments, " Delete them too: answers will no longer cite them"),
      el("label", {}, keepDocuments, " Keep them in this collection, no longer synced")),
    el("div", { class: "dialog-actions" },
      el("button", { value: "cancel" }, "Cancel"),
      el("button", { value: "delete", class: "danger", id: "source-delete-confirm" }, "Delete source"))));

function confirmDelete(source) {
  deleteTitle.textContent = `Delete the source “${source.name}”?`;
  deleteCount.textContent = `It stops syncing. It brought ${plural(source.document_count, "document")} into “${source.collection}”.`;
  dropDocuments.checked = true;
  deleteDialog.returnValue = "";
  if (!deleteDialog.isConnected) document.body.append(deleteDialog);
  deleteDialog.onclose = () => {
    if (deleteDialog.returnValue === "delete") deleteSource(source, keepDocuments.checked);
  };
  deleteDialog.showModal();
}

async function deleteSource(source, keep) {
  try {
    await api(`/api/sources/${source.id}${keep ? "?keep_documents=true" : ""}`, { method: "DELETE" });
  } catch (error) {
    toast(error.message, "error");
    return;
  }
  toast(keep ? `Deleted ${source.name}; its documents stay.` : `Deleted ${source.name} and its documents.`);
  view.busy.delete(source.id);
  await refresh();
  view.onSynced(source);
}

// The form: one set of fields per kind; the others are disabled, so neither checked nor sent.
const form = $("source-form");

function showKind(kind) {
  for (const fields of form.querySelectorAll(".source-settings")) {
    const mine = fields.dataset.kind === kind;
    fields.hidden = !mine;
    fields.disabled = !mine;
  }
}

function openForm(open) {
  form.hidden = !open;
  $("add-source").setAttribute("aria-expanded", String(open));
  $("source-form-error").textContent = "";
  if (open) $("source-name").focus();
}

// The settings of the chosen kind, by the names the API reads; empty fields are left out.
function settingsOf(kind) {
  const fields = form.querySelector(`.source-settings[data-kind="${kind}"]`);
  const settings = {};
  for (const input of fields.querySelectorAll("input")) {
    const value = input.value.trim();
    if (value) settings[input.name] = input.type === "number" ? Number(value) : value;
  }
  return settings;
}

async function addSource(event) {
  event.preventDefault();
  const error = $("source-form-error");
  error.textContent = "";
  const kind = form.elements.kind.value;
  const settings = settingsOf(kind);
  const minutes = $("source-every").value;
  const body = { kind, name: $("source-name").value.trim(), collection: view.collection, settings, every_minutes: minutes ? Number(minutes) : null };
  if (kind === "folder") body.path = settings.path; // the folder kind's first shape
  let source;
  try {
    ({ source } = await api("/api/sources", { method: "POST", json: body }));
  } catch (failure) {
    const refused = failure.status === 400 && /\bkind\b/.test(failure.message);
    error.textContent = refused
      ? `This server does not sync ${KINDS[kind].toLowerCase()}s: ${failure.message}.`
      : `The source was not added: ${failure.message}`;
    return;
  }
  form.reset(); // the secret leaves the page: it is never shown again
  showKind(form.elements.kind.value);
  openForm(false);
  toast(`Added ${source.name}; syncing it now.`);
  await syncNow(source);
}

/** Show the sources of `collection` (the page's collection picker). */
export function showSources(collection) {
  view.collection = collection;
  render();
}

/** Start the panel; onSynced(source) is told when a sync ends or a source goes. */
export function initSources(collection, onSynced) {
  view.collection = collection;
  view.onSynced = onSynced;
  const first = form.querySelector('input[name="kind"]:checked') || form.querySelector('input[name="kind"]');
  first.checked = true;
  showKind(first.value);
  form.addEventListener("change", (event) => {
    if (event.target.name === "kind") showKind(event.target.value);
  });
  form.addEventListener("submit", addSource);
  $("add-source").addEventListener("click", () => openForm(form.hidden));
  $("cancel-source").addEventListener("click", () => openForm(false));
  // A document stored by a sync: count it for the one source syncing in view, then look again
  // (a scheduled sync that started by itself shows up this way too).
  onDocumentEvent((data) => {
    if (data.type !== "status") return;
    refreshSoon();
    const busy = view.sources.filter((s) => view.busy.has(s.id) && s.collection === view.collection);
    if (busy.length === 1 && (data.status === "ready" || data.status === "failed")) {
      view.stored.set(busy[0].id, (view.stored.get(busy[0].id) || 0) + 1);
      render();
    }
  });
  refresh();
}
