// On every page: the Sign out button of the top bar.
import { request } from "./api.js";

const button = document.getElementById("logout-button");
if (button) {
  button.addEventListener("click", async () => {
    await request("/api/auth/logout", { method: "POST", json: {} });
    location.href = "/login";
  });
}
