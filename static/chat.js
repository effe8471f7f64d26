// The chat page: conversations sidebar, streamed answers rendered as safe Markdown at done,
// citations that open their passage, stop / resume / retry, feedback, scope chips.
"use strict";

const state = {
  conversationId: null,
  controller: null, // AbortController of the answer streaming now
  scope: { collection: "", documents: new Map() }, // document id -> title
  documents: [],
  activeTurn: null,
};
const RESUME_ATTEMPTS = 8; // about 25 s of backoff: long enough for a server restart

// Conversations sidebar --------------------------------------------------------------------

async function loadConversations() {
  const q = $("conversation-search").value.trim();
  const query = q ? `&q=${encodeURIComponent(q)}` : "";
  let data;
  try {
    data = await api(`/api/conversations?limit=200${query}`);
  } catch {
    return;
  }
  const list = $("conversation-list");
  if (!data.conversations.length) {
    list.replaceChildren(el("li", { class: "muted" }, q ? "No conversation matches." : "No conversations yet."));
    return;
  }
  list.replaceChildren(...data.conversations.map(conversationItem));
}

function conversationItem(c) {
  const current = c.id === state.conversationId;
  const item = el("li", { class: current ? "current" : "", "data-id": c.id });
  const open = el("a", { href: `/?c=${c.id}`, class: "conversation-link", "aria-current": current ? "page" : null, title: c.title }, c.title);
  open.addEventListener("click", (event) => {
    event.preventDefault();
    openConversation(c.id);
    closeSidebarOnNarrow();
  });
  const rename = el("button", { type: "button", class: "icon-button rename", "aria-label": `Rename “${c.title}”`, title: "Rename" }, icon("edit"));
  rename.addEventListener("click", () => startRename(item, c));
  const remove = el("button", { type: "button", class: "icon-button delete", "aria-label": `Delete “${c.title}”`, title: "Delete" }, icon("trash"));
  remove.addEventListener("click", () => deleteConversation(c));
  item.append(open, el("span", { class: "item-actions" }, rename, remove));
  return item;
}

function startRename(item, c) {
  const input = el("input", { type: "text", value: c.title, "aria-label": "New title", class: "rename-input", maxlength: "120" });
  const form = el("form", { class: "rename-form" }, input);
  let sent = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (sent) return;
    sent = true;
    try {
      if (input.value.trim() && input.value.trim() !== c.title) {
        await api(`/api/conversations/${c.id}`, { method: "PATCH", json: { title: input.value } });
      }
    } catch (error) {
      toast(error.message, "error");
    }
    loadConversations();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { event.stopPropagation(); sent = true; loadConversations(); }
  });
  input.addEventListener("blur", () => { if (form.isConnected) form.requestSubmit(); });
  item.replaceChildren(form);
  input.focus();
  input.select();
}

async function deleteConversation(c) {
  if (!confirm(`Delete the conversation “${c.title}”? This cannot be undone.`)) return;
  try {
    await api(`/api/conversations/${c.id}`, { method: "DELETE" });
  } catch (error) {
    toast(error.message, "error");
    return;
  }
  if (c.id === state.conversationId) newChat();
  loadConversations();
  toast("Conversation deleted.");
}

function setConversation(id) {
  state.conversationId = id;
  const url = id ? `/?c=${id}` : "/";
  if (location.pathname + location.search !== url) history.replaceState(null, "", url);
  for (const item of $("conversation-list").children) {
    const current = item.dataset.id === id;
    item.classList.toggle("current", current);
    const link = item.querySelector("a");
    if (link) {
      if (current) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }
}

function newChat() {
  stopAnswer();
  setConversation(null);
  $("messages").replaceChildren(emptyState(), uploadsNode);
  showSourcesList([]);
  $("question").focus();
}

let emptyStateNode = null;
let uploadsNode = null;
function emptyState() { return emptyStateNode; }

async function openConversation(id) {
  stopAnswer();
  let data;
  try {
    data = await api(`/api/conversations/${id}`);
  } catch (error) {
    toast(error.message, "error");
    setConversation(null);
    return;
  }
  setConversation(id);
  const messages = $("messages");
  messages.replaceChildren();
  const list = data.conversation.messages;
  for (let i = 0; i < list.length; i += 1) {
    const m = list[i];
    if (m.role !== "user") continue;
    const turn = newTurn(m.content);
    const reply = list[i + 1] && list[i + 1].role === "assistant" ? list[i + 1] : null;
    // Retry is offered on the last turn only: a later turn is the retry, or moved on.
    const isLast = !list.slice(i + 1).some((later) => later.role === "user");
    if (reply) {
      turn.messageId = reply.id;
      turn.sources = reply.sources || [];
      turn.text = reply.content;
      showAnswerHtml(turn, reply.html);
      renderTurnSources(turn);
      if (reply.provider) setProvider(turn, reply.provider); // answers stored before 0013 have none
      if (reply.status !== "interrupted" && reply.provider) showAnswerFacts(turn, reply);
      // A cut answer (stopped, connection lost, server restarted) shows what arrived, and says so.
      if (reply.status === "interrupted") markInterrupted(turn, "Answer interrupted: it stopped before it was finished.", isLast);
      else finishTurn(turn, { rating: reply.rating });
      i += 1;
    } else {
      markInterrupted(turn, "This answer was interrupted before it was finished.", isLast);
    }
  }
  const last = messages.lastElementChild;
  if (last && last.turn) showSourcesList(last.turn.sources || [], last.turn);
  scrollToEnd(true);
}

// Turns ----------------------------------------------------------------------------------

function newTurn(question) {
  const empty = $("empty-state");
  if (empty) empty.remove();
  const node = el("article", { class: "turn" });
  const turn = {
    node,
    question,
    text: "",
    sources: [],
    messageId: null,
    label: el("div", { class: "label" }),
    answer: el("div", { class: "answer streaming" }),
    notices: el("div", { class: "notices" }),
    sourceList: el("ol", { class: "sources" }),
    actions: el("div", { class: "actions" }),
  };
  node.turn = turn;
  node.append(el("div", { class: "question" }, question), turn.label, turn.answer, turn.notices, turn.sourceList, turn.actions);
  turn.answer.addEventListener("click", (event) => {
    const button = event.target.closest("button.cite");
    if (button) openCitation(turn, Number(button.dataset.n), button);
  });
  $("messages").append(node);
  return turn;
}

function notice(turn, text, kind = "") {
  turn.notices.append(el("p", { class: `notice ${kind}` }, text));
}

function showAnswerHtml(turn, html) {
  turn.answer.classList.remove("streaming");
  turn.answer.innerHTML = html; // sanitised on the server (markdown-it + nh3)
  for (const pre of turn.answer.querySelectorAll("pre")) {
    const copy = el("button", { type: "button", class: "copy-code" }, "Copy");
    copy.addEventListener("click", () => copyText(pre.innerText.replace(/\nCopy$/, ""), copy));
    pre.append(copy);
  }
  for (const button of turn.answer.querySelectorAll("button.cite")) {
    const n = Number(button.dataset.n);
    const source = turn.sources[n - 1];
    button.setAttribute("aria-label", source ? `Source ${n}: ${source.title}` : `Source ${n}`);
  }
}

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    const before = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = before; }, 1500);
  } catch {
    toast("Copying needs a secure page (https or localhost).", "error");
  }
}

function citedNumbers(text) {
  return new Set([...text.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1])));
}

function sourceItem(turn, source) {
  const button = el("button", { type: "button", class: "source-chip" }, el("span", { class: "n" }, String(source.n)), ` ${source.title}`, source.page ? el("span", { class: "muted" }, ` · p. ${source.page}`) : null);
  button.addEventListener("click", () => openCitation(turn, source.n, button));
  return el("li", { value: source.n }, button);
}

// Under the answer: only the sources it cites; the rest of what was searched folds away, so
// an answer that says the documents do not cover the question does not list five sources.
function renderTurnSources(turn) {
  const cited = citedNumbers(turn.text);
  const used = turn.sources.filter((s) => cited.has(s.n));
  const other = turn.sources.filter((s) => !cited.has(s.n));
  turn.sourceList.replaceChildren(...used.map((s) => sourceItem(turn, s)));
  if (other.length) {
    const details = el("details", { class: "other-sources" }, el("summary", {}, `${other.length} other passage${other.length > 1 ? "s" : ""} searched`));
    details.append(el("ol", {}, ...other.map((s) => sourceItem(turn, s))));
    turn.sourceList.append(el("li", { class: "other" }, details));
  }
}

function finishTurn(turn, { rating = null } = {}) {
  turn.node.dataset.done = "true";
  const copy = el("button", { type: "button", class: "action" }, icon("copy"), el("span", {}, "Copy"));
  copy.addEventListener("click", () => copyText(turn.text, copy.lastChild));
  const again = el("button", { type: "button", class: "action" }, icon("again"), "Regenerate");
  again.addEventListener("click", () => ask(turn.question));
  const actions = [copy, again];
  if (turn.messageId) {
    const up = el("button", { type: "button", class: "action thumb", "aria-pressed": String(rating === 1), "aria-label": "Helpful", title: "Helpful" }, icon("up"));
    const down = el("button", { type: "button", class: "action thumb", "aria-pressed": String(rating === -1), "aria-label": "Not helpful", title: "Not helpful" }, icon("down"));
    up.addEventListener("click", () => rate(turn, 1, up, down));
    down.addEventListener("click", () => openFeedbackForm(turn, up, down));
    actions.push(up, down);
  }
  turn.actions.replaceChildren(...actions);
}

async function rate(turn, rating, up, down, comment = "") {
  try {
    await api(`/api/messages/${turn.messageId}/feedback`, { method: "PUT", json: { rating, comment } });
  } catch (error) {
    toast(error.message, "error");
    return false;
  }
  up.setAttribute("aria-pressed", String(rating === 1));
  down.setAttribute("aria-pressed", String(rating === -1));
  toast("Thank you for the feedback.");
  return true;
}

function openFeedbackForm(turn, up, down) {
  if (turn.node.querySelector(".feedback-form")) return;
  const id = `comment-${turn.messageId}`;
  const comment = el("textarea", { id, rows: "2", maxlength: "2000", placeholder: "What was wrong? (optional)" });
  const form = el("form", { class: "feedback-form" }, el("label", { for: id }, "What was wrong with this answer?"), comment, el("div", { class: "row" }, el("button", { type: "submit", class: "primary" }, "Send feedback"), el("button", { type: "button", class: "cancel" }, "Cancel")));
  form.querySelector(".cancel").addEventListener("click", () => form.remove());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await rate(turn, -1, up, down, comment.value)) form.remove();
  });
  turn.actions.after(form);
  comment.focus();
}

function markInterrupted(turn, message, offerRetry = true) {
  turn.answer.classList.remove("streaming");
  turn.node.dataset.interrupted = "true";
  const notice = el("p", { class: "notice warn" }, `${message} `);
  if (offerRetry) {
    const retry = el("button", { type: "button", class: "action retry" }, "Retry");
    retry.addEventListener("click", () => ask(turn.question));
    notice.append(retry);
  }
  turn.notices.append(notice);
}

function scrollToEnd(force = false) {
  const box = $("messages");
  const near = box.scrollHeight - box.scrollTop - box.clientHeight < 160;
  if (force || near) box.scrollTop = box.scrollHeight;
}

// Asking and streaming ---------------------------------------------------------------------

function setBusy(busy) {
  $("ask-button").hidden = busy;
  $("stop-button").hidden = !busy;
}

function stopAnswer() {
  if (state.controller) state.controller.abort();
}

function askBody(question) {
  const body = { question, conversation_id: state.conversationId };
  if (state.scope.collection) body.collection = state.scope.collection;
  if (state.scope.documents.size) body.document_ids = [...state.scope.documents.keys()];
  return body;
}

async function ask(question) {
  if (state.controller) return;
  const turn = newTurn(question);
  state.activeTurn = turn;
  const controller = new AbortController();
  state.controller = controller;
  setBusy(true);
  scrollToEnd(true);
  const body = askBody(question);
  let lastEventId = null;
  let finished = false;
  try {
    for (let attempt = 0; !finished; attempt += 1) {
      const headers = { "Content-Type": "application/json", Accept: "text/event-stream" };
      if (lastEventId) headers["Last-Event-ID"] = lastEventId;
      let response;
      try {
        response = await fetch("/api/chat", { method: "POST", headers, body: JSON.stringify(body), signal: controller.signal });
        if (!response.ok) {
          if (lastEventId && response.status >= 500 && attempt < RESUME_ATTEMPTS) throw new Error("retry");
          turn.answer.classList.add("error");
          turn.answer.classList.remove("streaming");
          const message = await errorMessage(response);
          if (lastEventId) markInterrupted(turn, message);
          else turn.answer.textContent = message;
          return;
        }
        for await (const event of readEvents(response)) {
          if (event.id) lastEventId = event.id;
          // A stopping server worker says `reconnect`: go on from the last event elsewhere.
          if (event.event === "reconnect") break;
          if (handleEvent(turn, event)) finished = true;
        }
        if (!finished) throw new Error("the stream ended early");
      } catch (error) {
        if (controller.signal.aborted) throw error;
        // A dropped connection resumes where it stopped, without the person noticing.
        if (!lastEventId || attempt >= RESUME_ATTEMPTS) {
          markInterrupted(turn, `The connection was lost (${error.message}).`);
          return;
        }
        turn.node.dataset.resumed = "true";
        await new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** attempt, 4000)));
      }
    }
  } catch (error) {
    if (controller.signal.aborted) {
      turn.node.dataset.stopped = "true";
      turn.answer.classList.remove("streaming");
      notice(turn, "Stopped. The answer above is incomplete.", "warn");
      const retry = el("button", { type: "button", class: "action" }, "Ask again");
      retry.addEventListener("click", () => ask(question));
      turn.actions.replaceChildren(retry);
    } else {
      markInterrupted(turn, `Something went wrong: ${error.message}.`);
    }
  } finally {
    state.controller = null;
    state.activeTurn = null;
    setBusy(false);
    loadConversations();
  }
}

// Handle one answer event; true when the stream is over.
function handleEvent(turn, { event, data }) {
  if (event === "meta") {
    if (data.conversation_id !== state.conversationId) setConversation(data.conversation_id);
    turn.messageId = data.message_id;
    setProvider(turn, data.provider);
    loadConversations();
  } else if (event === "sources") {
    turn.sources = data.sources;
    showSourcesList(turn.sources, turn);
  } else if (event === "token") {
    turn.text += data.text;
    turn.answer.textContent = turn.text; // plain text while streaming; Markdown at done
    scrollToEnd();
  } else if (event === "error") {
    turn.answer.classList.remove("streaming");
    if (data.code === "interrupted") markInterrupted(turn, data.message);
    else {
      turn.node.dataset.error = data.code;
      turn.notices.append(el("p", { class: "notice error" }, data.message));
    }
    return true;
  } else if (event === "done") {
    completeTurn(turn, data);
    return true;
  }
  return false;
}

async function completeTurn(turn, data) {
  try {
    const { html } = await api("/api/render", { method: "POST", json: { text: turn.text } });
    showAnswerHtml(turn, html);
  } catch {
    turn.answer.classList.remove("streaming");
  }
  renderTurnSources(turn);
  showAnswerFacts(turn, data);
  finishTurn(turn);
  scrollToEnd();
  if ($("passage").hidden) showSourcesList(turn.sources, turn); // an open passage stays
}

function setProvider(turn, provider) {
  turn.provider = provider;
  turn.label.textContent = provider === "extractive"
    ? "Extractive answer: sentences quoted from your documents"
    : `Answer written by a language model (${provider})`;
}

// The notices of a finished answer, live (the done event) or reloaded (the stored message).
function showAnswerFacts(turn, data) {
  if (turn.provider === "extractive") {
    notice(turn, "No language model is configured: this answer quotes the most relevant sentences of your documents.", "info");
  }
  if (data.answered === false) {
    turn.node.dataset.answered = "false";
    notice(turn, "Your documents don't seem to answer this: the sources listed are the closest passages, not an answer.", "warn");
  }
  const unsupported = data.unsupported_citations || [];
  for (const flag of unsupported) {
    const flagged = squash(flag.sentence || "");
    for (const button of turn.answer.querySelectorAll(`button.cite[data-n="${flag.n}"]`)) {
      const mine = squash(citedSentence(button));
      if (!flagged || !mine || flagged.includes(mine.slice(-40)) || mine.includes(flagged.slice(-40))) {
        button.classList.add("unsupported");
        button.title = `Source ${flag.n} does not seem to say this`;
      }
    }
  }
  if (unsupported.length) {
    notice(turn, `Check ${unsupported.length === 1 ? "one citation" : `${unsupported.length} citations`} marked with ?: the cited source does not seem to say what the sentence says.`, "warn");
  }
}

// Sources panel ----------------------------------------------------------------------------

// The sources of an answer; once it is done, those it cites first and the rest set apart.
function showSourcesList(sources, turn = null) {
  $("passage").hidden = true;
  $("sources-empty").hidden = sources.length > 0;
  const done = turn && turn.node.dataset.done === "true";
  const cited = done ? citedNumbers(turn.text) : null;
  const ordered = done ? [...sources.filter((s) => cited.has(s.n)), ...sources.filter((s) => !cited.has(s.n))] : sources;
  $("source-list").replaceChildren(...ordered.map((s) => {
    const name = el("button", { type: "button", class: "source-open" }, el("span", { class: "n" }, String(s.n)), el("span", { class: "title" }, s.title));
    if (turn) name.addEventListener("click", () => openCitation(turn, s.n, name));
    else name.disabled = true;
    const apart = done && !cited.has(s.n);
    return el("li", { value: s.n, class: apart ? "uncited" : null }, name, apart ? el("span", { class: "muted tag" }, "searched, not cited") : null, el("p", { class: "snippet" }, cleanSnippet(withoutHeadings(s.snippet, s.heading_path))), s.page ? el("span", { class: "muted" }, `page ${s.page}`) : null);
  }));
}

function squash(text) {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, " ").trim();
}

// A snippet starts with the headings above its passage; the title already says them.
function withoutHeadings(snippet, headings = []) {
  let text = (snippet || "").replace(/^[\s#]+/, "");
  for (const heading of headings || []) {
    if (text.startsWith(heading)) text = text.slice(heading.length).replace(/^[\s#]+/, "");
  }
  return text;
}

// The sentence of the answer that a citation button ends.
function citedSentence(button) {
  const block = button.closest("p, li, td, th, blockquote") || button.parentElement;
  const range = document.createRange();
  range.setStart(block, 0);
  range.setEndBefore(button);
  const before = range.toString().replace(/\[\d+\]/g, " ").trim();
  const sentences = before.split(/(?<=[.!?])\s+/).filter((s) => s.trim().length > 2);
  return sentences.length ? sentences[sentences.length - 1] : before;
}

async function openCitation(turn, n, button) {
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
  box.replaceChildren(el("p", { class: "muted" }, "Loading the passage…"));
  let passage;
  try {
    ({ passage } = await api(`/api/passages/${source.chunk_id}?cite=${encodeURIComponent(cite)}`));
  } catch (error) {
    box.replaceChildren(el("p", { class: "error" }, error.message));
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
  box.replaceChildren(
    back,
    el("h3", { class: "passage-title" }, el("span", { class: "n" }, String(n)), ` ${name.title}`),
    name.file ? el("p", { class: "muted file" }, name.file) : null,
    where.length ? el("p", { class: "where" }, where.join(" · ")) : null,
    text,
    el("a", { class: "open-original", href: fileUrl, target: "_blank", rel: "noopener" }, "Open original ↗"),
  );
  const mark = text.querySelector("mark");
  if (mark) mark.scrollIntoView({ block: "center" });
  box.querySelector(".passage-title").setAttribute("tabindex", "-1");
  box.querySelector(".passage-title").focus({ preventScroll: true });
}

function openSourcesPanel() {
  document.body.classList.add("sources-open");
}

function closeSourcesPanel() {
  document.body.classList.remove("sources-open");
}

function closeSidebarOnNarrow() {
  document.body.classList.remove("sidebar-open");
  $("toggle-sidebar").setAttribute("aria-expanded", "false");
}

// Scope chips ------------------------------------------------------------------------------

function renderScope() {
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

async function loadScopeOptions() {
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

function renderChooser() {
  const filter = $("chooser-filter").value.trim().toLowerCase();
  const shown = state.documents.filter((d) => !filter || `${d.title} ${d.source}`.toLowerCase().includes(filter)).slice(0, 100);
  $("chooser-list").replaceChildren(...shown.map((d) => {
    const id = `pick-${d.id}`;
    const box = el("input", { type: "checkbox", id, checked: state.scope.documents.has(d.id) });
    box.addEventListener("change", () => {
      if (box.checked) state.scope.documents.set(d.id, documentName(d.title, d.source).title);
      else state.scope.documents.delete(d.id);
      renderScope();
    });
    return el("li", {}, box, el("label", { for: id }, documentName(d.title, d.source).title));
  }));
  if (!shown.length) $("chooser-list").append(el("li", { class: "muted" }, "No ready documents."));
}

// Uploads from the chat: the first documents, dropped anywhere on the conversation -----------

const chatUploads = new Map(); // document id -> upload row
let uploadEvents = null;

function uploadFromChat(files) {
  // Listen before uploading, so no event of these documents is missed.
  if (!uploadEvents) uploadEvents = documentEvents(onUploadEvent);
  for (const file of files) {
    const item = uploadRow(file.name);
    $("chat-uploads").append(item.row);
    uploadFile(file, state.scope.collection, (f) => item.set("uploading", `Uploading… ${Math.round(f * 100)}%`, f))
      .then(({ document: doc, duplicate }) => {
        if (duplicate) item.set("ready", "Already uploaded", 1);
        else {
          chatUploads.set(doc.id, item);
          item.set("queued", "Uploaded; waiting to be processed…", 0);
        }
      })
      .catch((error) => item.set("failed", error.message, 0));
  }
}

function onUploadEvent(type, data) {
  const item = chatUploads.get(data.id);
  if (!item) return;
  if (type === "progress") {
    item.set("processing", `${STAGE_NAMES[data.stage] || data.stage}…`, data.total ? data.done / data.total : null);
  } else if (data.status === "ready") {
    item.set("ready", `Ready: ask about ${data.title}`, 1);
    chatUploads.delete(data.id);
    loadScopeOptions();
    $("question").focus();
  } else if (data.status === "failed") {
    item.set("failed", `Failed: ${data.error}`, 0);
    chatUploads.delete(data.id);
  }
}

// Readers get no file input (the server leaves it out): nothing to drop files on either.
if ($("chat-file-input")) {
  $("chat-file-input").addEventListener("change", (event) => {
    if (event.target.files.length) uploadFromChat(event.target.files);
    event.target.value = "";
  });
  $("messages").addEventListener("dragover", (event) => event.preventDefault());
  $("messages").addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer.files.length) uploadFromChat(event.dataTransfer.files);
  });
}

// Page wiring ------------------------------------------------------------------------------

function autosize() {
  const box = $("question");
  box.style.height = "auto";
  box.style.height = `${Math.min(box.scrollHeight, 200)}px`;
}

$("ask-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question || state.controller) return;
  $("question").value = "";
  autosize();
  ask(question);
});
$("question").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("ask-form").requestSubmit();
  }
});
$("question").addEventListener("input", autosize);
$("stop-button").addEventListener("click", stopAnswer);
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  if (state.controller) stopAnswer();
  else if (document.body.classList.contains("sources-open")) closeSourcesPanel();
  else closeSidebarOnNarrow();
});
$("new-chat").addEventListener("click", () => { newChat(); closeSidebarOnNarrow(); });
let searchTimer = null;
$("conversation-search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(loadConversations, 200);
});
$("close-sources").addEventListener("click", closeSourcesPanel);
$("toggle-sidebar").addEventListener("click", () => {
  const open = document.body.classList.toggle("sidebar-open");
  $("toggle-sidebar").setAttribute("aria-expanded", String(open));
});
$("scope-collection").addEventListener("change", (event) => {
  state.scope.collection = event.target.value;
  renderScope();
});
$("choose-documents").addEventListener("click", () => {
  const chooser = $("document-chooser");
  chooser.hidden = !chooser.hidden;
  $("choose-documents").setAttribute("aria-expanded", String(!chooser.hidden));
  if (!chooser.hidden) $("chooser-filter").focus();
});
$("chooser-filter").addEventListener("input", renderChooser);

emptyStateNode = $("empty-state");
uploadsNode = $("chat-uploads");
renderScope();
loadScopeOptions();
loadConversations();
{
  const id = new URLSearchParams(location.search).get("c");
  if (id) openConversation(id);
  else $("question").focus();
}
