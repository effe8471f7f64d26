// The sources panel: the passages an answer searched, and one passage opened from a citation
// with the cited sentence highlighted. On a phone it is a drawer over the chat.
import { api } from "../api.js";
import { $, el, toast } from "../dom.js";
import { cleanSnippet, documentName, withoutHeadings } from "../names.js";

export const CHANGED_NOTICE = "This passage has changed since this answer: its document was edited, re-synced or removed after the answer was written.";

/** The numbers [n] an answer's text cites. */
export function citedNumbers(text) {
  return new Set([...text.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1])));
}

/** The sources of an answer; once it is done, those it cites first and the rest set apart. */
export function showSourcesList(sources, turn = null) {
  $("passage").hidden = true;
  $("sources-empty").hidden = sources.length > 0;
  const done = turn && turn.node.dataset.done === "true";
  const cited = done ? citedNumbers(turn.text) : null;
  const ordered = done ? [...sources.filter((s) => cited.has(s.n)), ...sources.filter((s) => !cited.has(s.n))] : sources;
  const apartLabel = turn && turn.answered === false ? "closest, not an answer" : "searched, not cited";
  $("source-list").replaceChildren(...ordered.map((s) => {
    const name = el("button", { type: "button", class: "source-open" }, el("span", { class: "n" }, String(s.n)), el("span", { class: "title" }, s.title));
    if (turn) name.addEventListener("click", () => openCitation(turn, s.n, name));
    else name.disabled = true;
    const apart = done && !cited.has(s.n);
    const changed = turn && turn.changed.has(s.n);
    return el("li", { value: s.n, class: apart ? "uncited" : null }, name,
      apart ? el("span", { class: "muted tag" }, apartLabel) : null,
      changed ? el("span", { class: "tag changed-tag" }, "changed since this answer") : null,
      el("p", { class: "snippet" }, cleanSnippet(withoutHeadings(s.snippet, s.heading_path))),
      s.page ? el("span", { class: "muted" }, `page ${s.page}`) : null);
  }));
}

/** The sentence of the answer that a citation button ends. */
export function citedSentence(button) {
  const block = button.closest("p, li, td, th, blockquote") || button.parentElement;
  const range = document.createRange();
  range.setStart(block, 0);
  range.setEndBefore(button);
  const before = range.toString().replace(/\[\d+\]/g, " ").trim();
  const sentences = before.split(/(?<=[.!?])\s+/).filter((s) => s.trim().length > 2);
  return sentences.length ? sentences[sentences.length - 1] : before;
}

/** Open source n of a turn in the panel, the sentence citing it highlighted in the passage. */
export async function openCitation(turn, n, button) {
  const source = turn.sources[n - 1];
  if (!source) {
    toast(`This answer has no source ${n}.`, "error");
    return;
  }
  const cite = button && button.classList.contains("cite") ? citedSentence(button) : "";
  openSourcesPanel();
  const box = $("passage");
  box.hidden = false;
  $("sources-empty").hidden = true;
  if (turn.changed.has(n)) {
    showChanged(turn, source);
    return;
  }
  box.replaceChildren(el("p", { class: "muted" }, "Loading the passage…"));
  // The digest the answer kept: a passage edited or removed since answers 410, not new text.
  const params = new URLSearchParams({ cite });
  if (source.digest) params.set("digest", source.digest);
  let passage;
  try {
    ({ passage } = await api(`/api/passages/${source.chunk_id}?${params}`));
  } catch (error) {
    if (error.code === "passage_changed") {
      turn.changed.add(n);
      showChanged(turn, source);
    } else {
      box.replaceChildren(el("p", { class: "error" }, error.message));
    }
    return;
  }
  const name = documentName(passage.title, passage.source);
  const text = el("blockquote", { class: "passage-text" });
  if (passage.highlight) {
    const [a, b] = passage.highlight;
    text.append(passage.text.slice(0, a), el("mark", {}, passage.text.slice(a, b)), passage.text.slice(b));
  } else {
    text.textContent = passage.text;
  }
  const where = [];
  if (passage.heading_path.length) where.push(passage.heading_path.join(" › "));
  if (passage.page) where.push(`page ${passage.page}`);
  const fileUrl = `/api/documents/${passage.document_id}/file${passage.page && passage.media_type === "application/pdf" ? `#page=${passage.page}` : ""}`;
  const back = el("button", { type: "button", class: "link-button" }, "← all sources");
  back.addEventListener("click", () => showSourcesList(turn.sources, turn));
  const title = el("h3", { class: "passage-title", tabindex: "-1" }, el("span", { class: "n" }, String(n)), ` ${name.title}`);
  // replaceChildren() writes a null argument as the text "null": leave absent parts out.
  box.replaceChildren(...[
    back,
    title,
    name.file ? el("p", { class: "muted file" }, name.file) : null,
    where.length ? el("p", { class: "where" }, where.join(" · ")) : null,
    // Read by OCR: "text recognised from a scan", with a warning when confidence is low.
    passage.provenance ? el("p", { class: "muted provenance" }, passage.provenance) : null,
    text,
    el("a", { class: "open-original", href: fileUrl, target: "_blank", rel: "noopener" }, "Open original ↗"),
  ].filter(Boolean));
  // The drawer starts at its top (its header and close button in sight); the passage box
  // alone scrolls to the highlighted sentence.
  $("sources-panel").scrollTop = 0;
  const mark = text.querySelector("mark");
  if (mark) text.scrollTop = Math.max(0, mark.offsetTop - text.offsetTop - text.clientHeight / 3);
  title.focus({ preventScroll: true });
}

// A cited passage that changed since the answer: say so, with what the answer saw of it then.
function showChanged(turn, source) {
  const back = el("button", { type: "button", class: "link-button" }, "← all sources");
  back.addEventListener("click", () => showSourcesList(turn.sources, turn));
  const title = el("h3", { class: "passage-title", tabindex: "-1" }, el("span", { class: "n" }, String(source.n)), ` ${source.title}`);
  const then = cleanSnippet(withoutHeadings(source.snippet, source.heading_path));
  $("passage").replaceChildren(...[
    back,
    title,
    el("p", { class: "notice warn passage-changed", role: "status" }, CHANGED_NOTICE),
    then ? el("p", { class: "hint" }, "When the answer was written, the passage read:") : null,
    then ? el("blockquote", { class: "passage-text then" }, then) : null,
  ].filter(Boolean));
  $("sources-panel").scrollTop = 0;
  title.focus({ preventScroll: true });
}

export function openSourcesPanel() {
  document.body.classList.add("sources-open");
}

export function closeSourcesPanel() {
  document.body.classList.remove("sources-open");
}
