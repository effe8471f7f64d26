// What the next question searches: all documents, one collection, or chosen documents (chips).
import { api } from "../api.js";
import { $, el } from "../dom.js";
import { documentName } from "../names.js";
import { state } from "./state.js";

export function renderScope() {
  const chips = [];
  const { collection, documents } = state.scope;
  if (!collection && !documents.size) chips.push(el("span", { class: "chip" }, "All documents"));
  if (collection) chips.push(chip(`Collection: ${collection}`, () => { state.scope.collection = ""; $("scope-collection").value = ""; renderScope(); }));
  for (const [id, title] of documents) chips.push(chip(title, () => { documents.delete(id); renderScope(); renderChooser(); }));
  $("scope-chips").replaceChildren(...chips);
}

function chip(text, onRemove) {
  const remove = el("button", { type: "button", class: "chip-remove", "aria-label": `Remove ${text}` }, "×");
  remove.addEventListener("click", onRemove);
  return el("span", { class: "chip" }, text, remove);
}

/** The collections and ready documents to choose from; shows the no-documents hint if none. */
export async function loadScopeOptions() {
  try {
    const [{ collections }, { documents, counts }] = await Promise.all([
      api("/api/collections"),
      api("/api/documents?limit=500"),
    ]);
    const select = $("scope-collection");
    select.replaceChildren(el("option", { value: "" }, "all collections"), ...collections.map((c) => el("option", { value: c.name }, `${c.name} (${c.document_count})`)));
    select.value = state.scope.collection;
    state.documents = documents.filter((d) => d.status === "ready");
    const total = Object.values(counts || {}).reduce((a, b) => a + b, 0);
    $("no-documents").hidden = total > 0 || documents.length > 0;
    renderChooser();
  } catch {
    /* the chat still works without the pickers */
  }
}

export function renderChooser() {
  const filter = $("chooser-filter").value.trim().toLowerCase();
  const shown = state.documents.filter((d) => !filter || `${d.title} ${d.source}`.toLowerCase().includes(filter)).slice(0, 100);
  $("chooser-list").replaceChildren(...shown.map((d) => {
    const id = `pick-${d.id}`;
    const title = documentName(d.title, d.source).title;
    const box = el("input", { type: "checkbox", id, checked: state.scope.documents.has(d.id) });
    box.addEventListener("change", () => {
      if (box.checked) state.scope.documents.set(d.id, title);
      else state.scope.documents.delete(d.id);
      renderScope();
    });
    return el("li", {}, box, el("label", { for: id }, title));
  }));
  if (!shown.length) $("chooser-list").append(el("li", { class: "muted" }, "No ready documents."));
}
