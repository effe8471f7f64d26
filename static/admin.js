// The admin page: users and roles, invitation links, collections and their members, feedback.
// $ and the other helpers come from common.js, loaded first.
"use strict";

const json = (method, body) => ({
  method,
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify(body),
});

function node(tag, text = "", attrs = {}) {
  const element = document.createElement(tag);
  element.textContent = text;
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, value);
  return element;
}

function select(options, value, label, onChange) {
  const element = node("select", "", { "aria-label": label });
  for (const option of options) element.append(node("option", option));
  element.value = value;
  element.addEventListener("change", () => onChange(element.value));
  return element;
}

async function refreshUsers() {
  const { users } = await (await fetch("/api/admin/users")).json();
  $("user-list").replaceChildren(...users.map((user) => {
    const row = node("tr");
    const role = node("td");
    role.append(select(["reader", "editor", "admin"], user.role, `Role of ${user.email}`, async (value) => {
      await fetch(`/api/admin/users/${user.id}`, json("PATCH", { role: value }));
      refreshUsers();
    }));
    row.append(node("td", user.email), role, node("td", user.created_at.slice(0, 10)));
    return row;
  }));
}

async function refreshCollections() {
  const { collections } = await (await fetch("/api/admin/collections")).json();
  $("collection-list").replaceChildren(...collections.map((c) => {
    const row = node("tr");
    const base = `/api/admin/collections/${encodeURIComponent(c.name)}`;
    const visibility = node("td");
    visibility.append(select(["private", "shared"], c.visibility, `Visibility of ${c.name}`, async (value) => {
      await fetch(base, json("PATCH", { visibility: value }));
      refreshCollections();
refreshFeedback();
    }));
    const members = node("td");
    for (const email of c.members) {
      const remove = node("button", `${email} ×`, { class: "link-button" });
      remove.addEventListener("click", async () => {
        await fetch(`${base}/members/${encodeURIComponent(email)}`, { method: "DELETE" });
        refreshCollections();
refreshFeedback();
      });
      members.append(remove, " ");
    }
    const add = node("input", "", {
      type: "text", placeholder: "add by email", "aria-label": `Add a member to ${c.name} by email`,
    });
    add.addEventListener("change", async () => {
      await fetch(`${base}/members`, json("POST", { email: add.value }));
      refreshCollections();
refreshFeedback();
    });
    members.append(add);
    row.append(node("td", c.name), node("td", c.owner || "—"), node("td", String(c.document_count)),
      visibility, members);
    return row;
  }));
}

// The API lists feedback newest first; an answer shows as its first words.
async function refreshFeedback() {
  const { feedback } = await (await fetch("/api/feedback")).json();
  const excerpt = (text, max = 160) => (text && text.length > max ? `${text.slice(0, max)}…` : text || "");
  const rows = feedback.map((f) => {
    const row = node("tr", "", { class: "feedback" });
    row.append(node("td", f.rating > 0 ? "helpful" : "not helpful"), node("td", f.comment || "—"),
      node("td", excerpt(f.question)), node("td", excerpt(f.answer)), node("td", f.updated_at.slice(0, 10)));
    return row;
  });
  if (!rows.length) {
    rows.push(node("tr"));
    rows[0].append(node("td", "No feedback yet.", { colspan: "5", class: "muted" }));
  }
  $("feedback-list").replaceChildren(...rows);
}

$("invite-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch("/api/admin/invitations", json("POST", {
    role: $("invite-role").value,
    email: $("invite-email").value || null,
  }));
  const shown = $("invite-link");
  shown.hidden = false;
  if (response.ok) {
    shown.textContent = (await response.json()).url;
  } else {
    shown.textContent = (await response.json()).error.message;
  }
});

refreshUsers();
refreshCollections();
refreshFeedback();
