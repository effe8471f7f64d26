// Sign-in, first-run and sign-up forms: sent as JSON so a mistake is shown beside the form.
// Without JavaScript the same forms post as ordinary HTML forms.
import { api } from "./api.js";

for (const form of document.querySelectorAll("form.json-form")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = form.querySelector(".form-error");
    error.textContent = "";
    try {
      await api(form.action, { method: "POST", json: Object.fromEntries(new FormData(form).entries()) });
    } catch (failure) {
      error.textContent = failure.message;
      return;
    }
    location.href = form.dataset.next || "/";
  });
}
