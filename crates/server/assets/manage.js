// The manage page: uploads from the browser (drop or pick many files; each is streamed to the
// server with its own progress bar, one at a time, and reports what was imported or why not) and
// live job progress from the server's event stream (no polling).

const drop = document.querySelector("[data-upload]");
if (drop) uploads(drop);
const jobs = document.querySelector("[data-jobs]");
if (jobs) watchJobs(jobs);

function uploads(zone) {
  const input = zone.querySelector("input[type=file]");
  const list = zone.querySelector("ol.uploads");
  const csrf = document.querySelector("meta[name=csrf]")?.content;
  const t = zone.dataset;
  const queue = [];
  let running = false;
  zone.hidden = false;
  const add = (files) => {
    for (const file of files) {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = file.name;
      const bar = document.createElement("progress");
      bar.max = file.size || 1;
      bar.value = 0;
      const status = document.createElement("span");
      status.className = "status";
      status.textContent = t.waiting;
      li.append(name, bar, status);
      list.append(li);
      queue.push({ file, bar, status, li });
    }
    pump();
  };
  const pump = async () => {
    if (running) return;
    running = true;
    while (queue.length) await send(queue.shift());
    running = false;
  };
  const send = ({ file, bar, status, li }) => new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/v1/uploads?name=${encodeURIComponent(file.name)}`);
    if (csrf) xhr.setRequestHeader("x-csrf-token", csrf);
    xhr.setRequestHeader("content-type", "application/octet-stream");
    xhr.upload.addEventListener("progress", (e) => {
      bar.value = e.loaded;
      status.textContent = `${Math.round((100 * e.loaded) / (e.total || 1))}%`;
    });
    xhr.upload.addEventListener("load", () => { status.textContent = t.importing; });
    xhr.addEventListener("load", () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      bar.value = bar.max;
      if (xhr.status >= 200 && xhr.status < 300 && body) {
        const results = body.results || [];
        const failed = results.filter((r) => r.status === "failed");
        const dup = results.filter((r) => r.status === "duplicate");
        const done = results.filter((r) => r.status === "imported");
        li.classList.add(failed.length ? "failed" : "done");
        status.textContent = failed.length
          ? `${t.failed}: ${failed.map((r) => r.error).join("; ")}`
          : dup.length && !done.length ? t.duplicate : t.imported;
        const g = done[0]?.gallery?.public_id || dup[0]?.public_id;
        if (g) {
          const a = document.createElement("a");
          a.href = `/g/${g}`;
          a.textContent = t.open;
          li.append(a);
        }
      } else {
        li.classList.add("failed");
        status.textContent = `${t.failed}: ${body?.error || xhr.statusText || xhr.status}`;
      }
      resolve();
    });
    const broken = () => {
      li.classList.add("failed");
      status.textContent = `${t.failed}: ${t.broken}`;
      resolve();
    };
    xhr.addEventListener("error", broken);
    xhr.addEventListener("abort", broken);
    xhr.send(file);
  });
  input.addEventListener("change", () => { add(input.files); input.value = ""; });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    add(e.dataTransfer.files);
  });
}

function watchJobs(table) {
  if (!("EventSource" in window)) return;
  const body = table.querySelector("tbody");
  const t = table.dataset;
  const rowOf = (id) => body.querySelector(`tr[data-job="${id}"]`);
  const source = new EventSource("/api/v1/jobs/events");
  source.addEventListener("job", (msg) => {
    const job = JSON.parse(msg.data);
    let row = rowOf(job.id);
    if (!row) {
      row = document.createElement("tr");
      row.dataset.job = String(job.id);
      for (let k = 0; k < 4; k++) row.append(document.createElement("td"));
      const bar = document.createElement("progress");
      row.children[2].append(bar, document.createElement("span"));
      body.prepend(row);
    }
    const [what, state, progress, failures] = row.children;
    what.textContent = job.kind === "thumbnails" ? t.thumbnails : job.current;
    state.textContent = t[job.state] || job.state;
    const bar = progress.querySelector("progress");
    if (bar) {
      bar.max = Math.max(1, job.total);
      bar.value = job.done;
    }
    const label = progress.querySelector("span");
    if (label) label.textContent = ` ${job.done} / ${job.total}`;
    failures.replaceChildren(...job.failures.map((f) => {
      const p = document.createElement("div");
      p.textContent = f;
      return p;
    }));
    row.className = job.state;
    table.hidden = false;
    document.querySelector("[data-no-jobs]")?.remove();
  });
}
