// The admin page: users and roles, invitation links, collections and their members, feedback.
// Every change reports its failure in words and shows the state the server really kept.
import { api } from "./api.js";
import { deleteCollection } from "./collections.js";
import { $, el, toast } from "./dom.js";

function select(options, value, label, onChange) {
  const element = el("select", { "aria-label": label }, ...options.map((option) => el("option", {}, option)));
  element.value = value;
  element.addEventListener("change", () => onChange(element.value));
  return element;
}

/** Send a change; on failure say why. Then show the list again as the server has it. */
async function change(path, options, refresh, done = "") {
  try {
    await api(path, options);
    if (done) toast(done);
  } catch (error) {
    toast(error.message, "error");
  }
  await refresh();
}

async function load(path, target, columns) {
  try {
    return await api(path);
  } catch (error) {
    $(target).replaceChildren(el("tr", {}, el("td", { colspan: String(columns), class: "error" }, error.message)));
    return null;
  }
}

async function refreshUsers() {
  const data = await load("/api/admin/users", "user-list", 4);
  if (!data) return;
  $("user-list").replaceChildren(...data.users.map((user) => {
    const role = select(["reader", "editor", "admin"], user.role, `Role of ${user.email}`, (value) =>
      change(`/api/admin/users/${user.id}`, { method: "PATCH", json: { role: value } }, refreshUsers, `${user.email} is now ${value}.`));
    const access = el("button", { type: "button", class: user.disabled ? "link-button" : "danger-link",
      "aria-label": `${user.disabled ? "Enable" : "Disable"} ${user.email}` }, user.disabled ? "Enable" : "Disable");
    access.addEventListener("click", () =>
      change(`/api/admin/users/${user.id}`, { method: "PATCH", json: { disabled: !user.disabled } }, refreshUsers,
        `${user.email} is now ${user.disabled ? "enabled" : "disabled: their sessions ended and their keys stopped working"}.`));
    return el("tr", {}, el("td", {}, user.email), el("td", {}, role), el("td", {}, user.created_at.slice(0, 10)),
      el("td", {}, access));
  }));
}

async function refreshCollections() {
  const data = await load("/api/admin/collections", "collection-list", 6);
  if (!data) return;
  $("collection-list").replaceChildren(...data.collections.map((c) => {
    // By id: names are unique per owner only, so two users' collections may share one.
    const base = `/api/admin/collections/id:${c.id}`;
    const visibility = select(["private", "shared"], c.visibility, `Visibility of ${c.name}`, (value) =>
      change(base, { method: "PATCH", json: { visibility: value } }, refreshCollections, `${c.name} is now ${value}.`));
    const members = el("td");
    for (const email of c.members) {
      const remove = el("button", { type: "button", class: "link-button", "aria-label": `Remove ${email} from ${c.name}` }, `${email} ×`);
      remove.addEventListener("click", () =>
        change(`${base}/members/${encodeURIComponent(email)}`, { method: "DELETE" }, refreshCollections));
      members.append(remove, " ");
    }
    const add = el("input", { type: "text", placeholder: "add by email", "aria-label": `Add a member to ${c.name} by email` });
    add.addEventListener("change", () =>
      change(`${base}/members`, { method: "POST", json: { email: add.value } }, refreshCollections));
    members.append(add);
    const remove = el("button", { type: "button", class: "danger-link", "aria-label": `Delete the collection ${c.name}` }, "Delete");
    remove.addEventListener("click", async () => {
      try {
        if (await deleteCollection(c.name, c.document_count, `id:${c.id}`)) toast(`Deleted the collection ${c.name}.`);
      } catch (error) {
        toast(error.message, "error");
      }
      refreshCollections();
    });
    return el("tr", { "data-name": c.name }, el("td", {}, c.name), el("td", {}, c.owner || "—"), el("td", {}, String(c.document_count)),
      el("td", {}, visibility), members, el("td", {}, remove));
  }));
}

// The API lists feedback newest first; an answer shows as its first words.
async function refreshFeedback() {
  const data = await load("/api/feedback", "feedback-list", 5);
  if (!data) return;
  const excerpt = (text, max = 160) => (text && text.length > max ? `${text.slice(0, max)}…` : text || "");
  const rows = data.feedback.map((f) => el("tr", { class: "feedback" },
    el("td", {}, f.rating > 0 ? "helpful" : "not helpful"), el("td", {}, f.comment || "—"),
    el("td", {}, excerpt(f.question)), el("td", {}, excerpt(f.answer)), el("td", {}, f.updated_at.slice(0, 10))));
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: "5", class: "muted" }, "No feedback yet.")));
  $("feedback-list").replaceChildren(...rows);
}

$("invite-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const shown = $("invite-link");
  try {
    const { url } = await api("/api/admin/invitations", {
      method: "POST",
      json: { role: $("invite-role").value, email: $("invite-email").value || null },
    });
    shown.textContent = url;
    shown.classList.remove("error");
  } catch (error) {
    shown.textContent = error.message;
    shown.classList.add("error");
  }
  shown.hidden = false; // once it says something: an empty box read as a link with no URL
});

refreshUsers();
refreshCollections();
refreshFeedback();
