// The console's copy buttons: a button with data-copy="ID" copies the value of the field ID and
// says so in #copied (the field stays selectable by hand where the clipboard is refused).
"use strict";
document.querySelectorAll("button[data-copy]").forEach((button) => {
  button.addEventListener("click", async () => {
    const field = document.getElementById(button.dataset.copy);
    const said = document.getElementById("copied");
    try {
      await navigator.clipboard.writeText(field.value);
      said.textContent = button.dataset.copied;
    } catch {
      field.select();
      said.textContent = button.dataset.failed;
    }
  });
});
