// The conversations sidebar (list, search, rename, delete) and opening a stored conversation.
import { api } from "../api.js";
import { $, el, icon, toast } from "../dom.js";
import { showSourcesList } from "./sources.js";
import { state, stopAnswer } from "./state.js";
import { finishTurn, markInterrupted, newTurn, renderTurnSources, scrollToEnd, showAnswerFacts, showAnswerHtml } from "./turns.js";

// The parts of an empty chat, kept to be put back by "New chat".
const emptyState = $("empty-state");
const uploads = $("chat-uploads");

export async function loadConversations() {
  const q = $("conversation-search").value.trim();
  const query = q ? `&q=${encodeURIComponent(q)}` : "";
  let data;
  try {
    data = await api(`/api/conversations?limit=200${query}`);
  } catch (error) {
    $("conversation-list").replaceChildren(el("li", { class: "error" }, error.message));
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

/** Show `id` as the current conversation, in the address bar and the sidebar. */
export function setConversation(id) {
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

export function newChat() {
  stopAnswer();
  setConversation(null);
  $("messages").replaceChildren(emptyState, uploads);
  showSourcesList([]);
  $("question").focus();
}

/** Show a stored conversation: each answer as it was (label, notices, sources, rating). */
export async function openConversation(id) {
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
      // Sources whose passage changed or vanished since this answer: shown as such.
      turn.changed = new Set(reply.changed_sources || []);
      turn.text = reply.content;
      showAnswerHtml(turn, reply.html);
      // A cut answer (stopped, connection lost, server restarted) shows what arrived, and says so.
      if (reply.status === "interrupted") {
        renderTurnSources(turn);
        markInterrupted(turn, "Answer interrupted: it stopped before it was finished.", isLast);
      } else {
        showAnswerFacts(turn, reply);
        renderTurnSources(turn);
        finishTurn(turn, { rating: reply.rating });
      }
      i += 1;
    } else {
      markInterrupted(turn, "This answer was interrupted before it was finished.", isLast);
    }
  }
  const last = messages.lastElementChild;
  if (last && last.turn) showSourcesList(last.turn.sources || [], last.turn);
  scrollToEnd(true);
}

export function closeSidebarOnNarrow() {
  document.body.classList.remove("sidebar-open");
  $("toggle-sidebar").setAttribute("aria-expanded", "false");
}
