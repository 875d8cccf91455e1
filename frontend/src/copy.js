// Copy buttons beside the service URLs.
import { t } from "./api.js";

export function copyButtons(root = document) {
  for (const button of root.querySelectorAll("button.copy")) {
    button.addEventListener("click", async () => {
      const input = document.getElementById(button.dataset.copy);
      input.select();
      try {
        await navigator.clipboard.writeText(input.value);
      } catch (_) {
        document.execCommand("copy");
      }
      const label = button.textContent;
      button.textContent = t("copied");
      setTimeout(() => { button.textContent = label; }, 1500);
    });
  }
}
