// Polls a badge job's JSON status, moves the <progress> bar, then downloads the PDF when it is ready.
import { fill, formats } from "./dom.js";

const box = document.getElementById("badge-job");
if (box && window.fetch) {
  const bar = document.getElementById("badge-progress");
  const count = document.getElementById("badge-count");
  const ready = document.getElementById("badge-ready");
  const failed = document.getElementById("badge-failed");
  const { int } = formats(document.documentElement.lang);

  const show = function (job) {
    bar.max = Math.max(job.total, 1);
    bar.value = job.done;
    count.textContent = fill(box.dataset.count, { done: int(job.done), total: int(job.total) });
  };

  const poll = function () {
    fetch(box.dataset.status, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (job) {
        show(job);
        if (job.state === "done") {
          ready.hidden = false;
          window.location.href = box.dataset.pdf;
        } else if (job.state === "failed") {
          failed.hidden = false;
          failed.querySelector("span").textContent = job.error;
        } else {
          setTimeout(poll, 1000);
        }
      })
      .catch(function () { failed.hidden = false; });
  };

  if (ready.hidden && failed.hidden) poll();
}
