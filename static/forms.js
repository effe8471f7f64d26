// Sign-in, first-run and sign-up forms: sent as JSON so a mistake is shown beside the form.
// Without JavaScript the same forms post as ordinary HTML forms.
"use strict";

for (const form of document.querySelectorAll("form.json-form")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = form.querySelector(".form-error");
    error.textContent = "";
    const data = Object.fromEntries(new FormData(form).entries());
    const response = await fetch(form.action, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(data),
    });
    if (response.ok) {
      location.href = form.dataset.next || "/";
      return;
    }
    try {
      error.textContent = (await response.json()).error.message;
    } catch {
      error.textContent = `HTTP ${response.status}`;
    }
  });
}
