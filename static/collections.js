// Deleting a collection, from the documents page and the admin page: an empty one at once, one
// with documents only after the person has confirmed that its documents go with it. And the
// settings panel of a collection's assistant, on the documents page.
import { api } from "./api.js";
import { toast } from "./dom.js";

const documents = (n) => `${n} document${n === 1 ? "" : "s"}`;

/** Delete the collection `name` holding `count` documents; true when it is gone. Throws an
 * ApiError (in words) when the server refuses. */
/** `ref` names it for the server: its name, or "id:N" where several share the name. */
export async function deleteCollection(name, count, ref = name) {
  const question = count
    ? `Delete the collection “${name}” and its ${documents(count)}? Answers will no longer cite them. This cannot be undone.`
    : `Delete the empty collection “${name}”?`;
  if (!confirm(question)) return false;
  const path = `/api/collections/${encodeURIComponent(ref)}`;
  await api(count ? `${path}?delete_documents=true` : path, { method: "DELETE" });
  return true;
}

// The assistant of a collection (its owner or an admin): instructions, answer length, passages,
// reranking and model, read from and saved to /api/collections/{name}/assistant.
const field = (id) => document.getElementById(id);

function fillModels(view) {
  const select = field("assistant-model");
  const site = view.default_model ? `Site default (${view.default_model})` : "Site default";
  const models = view.models.filter((m) => m !== view.default_model);
  const chosen = view.assistant.model;
  // A model chosen earlier that the server no longer lists stays visible, so it is not lost.
  if (chosen && !view.models.includes(chosen)) models.push(chosen);
  select.replaceChildren(new Option(site, ""), ...models.map((m) => new Option(m, m)));
  select.value = chosen || "";
}

function fill(view) {
  const { assistant, limits } = view;
  field("assistant-instructions").value = assistant.instructions;
  field("assistant-instructions").maxLength = limits.instructions;
  field("assistant-length").value = assistant.length || "";
  const passages = field("assistant-passages");
  passages.min = limits.passages.min;
  passages.max = limits.passages.max;
  passages.placeholder = `${limits.passages.default} (site default)`;
  passages.value = assistant.passages ?? "";
  field("assistant-rerank").value = assistant.rerank === null ? "" : assistant.rerank ? "on" : "off";
  fillModels(view);
  const extractive = view.provider === "extractive";
  // Without a language model only passages, reranking and length change an answer.
  field("assistant-instructions").disabled = extractive;
  field("assistant-model").disabled = extractive || !view.models.length;
  const notes = [];
  if (extractive) notes.push("No language model is configured: answers are quoted from the documents (extractive), so only the length, the passages and reranking apply; instructions and model do not.");
  if (!view.reranker) notes.push("No reranker is configured on this site: reranking has no effect until one is.");
  if (view.models_error) notes.push(`The model list could not be read: ${view.models_error}`);
  field("assistant-note").textContent = notes.join(" ");
  field("assistant-note").hidden = !notes.length;
  countInstructions();
}

function countInstructions() {
  const box = field("assistant-instructions");
  field("assistant-count").textContent = `${box.value.length} / ${box.maxLength} characters`;
}

function chosen() {
  const passages = field("assistant-passages").value.trim();
  const rerank = field("assistant-rerank").value;
  return {
    instructions: field("assistant-instructions").value,
    length: field("assistant-length").value || null,
    // Sent as typed: the server says in words what is out of range.
    passages: passages === "" ? null : Number(passages),
    rerank: rerank === "" ? null : rerank === "on",
    model: field("assistant-model").value || null,
  };
}

/** Wire the panel once; `current()` names the collection shown. Returns `open(name)`. */
export function assistantPanel(current) {
  const panel = field("assistant-panel");
  const button = field("assistant-settings");
  const path = (name) => `/api/collections/${encodeURIComponent(name)}/assistant`;
  const close = () => {
    panel.hidden = true;
    button.setAttribute("aria-expanded", "false");
  };
  const open = async (name) => {
    field("assistant-error").textContent = "";
    try {
      fill(await api(path(name)));
    } catch (error) {
      toast(error.message, "error");
      return;
    }
    field("assistant-heading").textContent = `Assistant for ${name}`;
    panel.hidden = false;
    button.setAttribute("aria-expanded", "true");
    panel.scrollIntoView({ block: "nearest" });
    field("assistant-instructions").focus();
  };
  button.addEventListener("click", () => (panel.hidden ? open(current()) : close()));
  field("assistant-close").addEventListener("click", close);
  field("assistant-instructions").addEventListener("input", countInstructions);
  field("assistant-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = current();
    const error = field("assistant-error");
    error.textContent = "";
    try {
      fill(await api(path(name), { method: "PUT", json: chosen() }));
    } catch (failure) {
      error.textContent = failure.message;
      return;
    }
    toast(`Saved the assistant of ${name}.`);
  });
  return { open, close };
}
