// The chat page: wires the composer, the keyboard, the sidebar, the scope and the first
// uploads to the modules that do the work.
import { $ } from "../dom.js";
import { uploadFlow } from "../upload.js";
import { closeSidebarOnNarrow, loadConversations, newChat, openConversation } from "./conversations.js";
import { loadScopeOptions, renderChooser, renderScope } from "./scope.js";
import { closeSourcesPanel } from "./sources.js";
import { state, stopAnswer } from "./state.js";
import { ask } from "./stream.js";

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
document.addEventListener("chat:ask", (event) => ask(event.detail.question));
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

// The first documents, dropped anywhere on the conversation. Readers get no file input (the
// server leaves it out): nothing to drop files on either.
if ($("chat-file-input")) {
  const upload = uploadFlow($("chat-uploads"), {
    readyText: (data) => `Ready: ask about ${data.title}`,
    onReady: () => { loadScopeOptions(); $("question").focus(); },
  });
  $("chat-file-input").addEventListener("change", (event) => {
    if (event.target.files.length) upload(event.target.files, state.scope.collection);
    event.target.value = "";
  });
  $("messages").addEventListener("dragover", (event) => event.preventDefault());
  $("messages").addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer.files.length) upload(event.dataTransfer.files, state.scope.collection);
  });
}

renderScope();
loadScopeOptions();
loadConversations();
{
  const id = new URLSearchParams(location.search).get("c");
  if (id) openConversation(id);
  else $("question").focus();
}
