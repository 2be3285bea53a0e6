// Small helpers for plain forms; without JavaScript the forms work the same, the server checks everything.
// - form[data-confirm]: ask before submitting ("Xóa tài liệu này?").
// - input[type=file][data-max-bytes]: refuse a file that is too large before uploading it (data-too-large).
document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
document.addEventListener("change", (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || input.type !== "file" || !input.dataset.maxBytes) return;
  const file = input.files && input.files[0];
  input.setCustomValidity(file && file.size > Number(input.dataset.maxBytes) ? input.dataset.tooLarge || "" : "");
  input.reportValidity();
});
