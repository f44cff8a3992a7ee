// Editing helpers for the gallery page; every form they improve works without them.
// - Tag fields (input[data-suggest]) suggest tags as the last one in the list is typed.
// - The page grid (.thumbs.editable) reorders by dragging (mouse, touch and pen) or by keyboard
//   (Alt with an arrow key on a focused page); the typed numbers follow, and "Save" sends them.
// - The cropper ([data-cropper]) draws the cover's rectangle with a pointer and fills the form.

for (const input of document.querySelectorAll("input[data-suggest]")) suggestTags(input);
for (const list of document.querySelectorAll(".thumbs.editable")) reorderable(list);
for (const box of document.querySelectorAll("[data-cropper]")) cropper(box);

// Tag lists (`ns:tag, ns:tag`) complete their last tag; the search box (data-query) completes
// its last word into an exact tag term, keeping a leading `-`.
function suggestTags(input) {
  const list = document.getElementById(input.getAttribute("list"));
  if (!list) return;
  const query = input.dataset.query !== undefined;
  let timer = 0;
  let asked = "";
  const split = (value) => {
    if (query) {
      const m = value.match(/^(.*?)(-?)([^\s-][^\s]*)$/s);
      return m ? { before: m[1], sign: m[2], typed: m[3] } : null;
    }
    const parts = value.split(",");
    const typed = parts.pop().trim();
    const before = parts.map((p) => p.trim()).filter(Boolean);
    return { before: before.length ? `${before.join(", ")}, ` : "", sign: "", typed };
  };
  const term = (tag) => {
    if (!query) return tag;
    const [ns, ...rest] = tag.split(":");
    const name = rest.join(":");
    return /[\s"]/.test(name) ? `${ns}:"${name.replaceAll('"', "")}"$` : `${tag}$`;
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const parts = split(input.value);
      if (!parts || parts.typed.length < 2 || parts.typed === asked) return;
      asked = parts.typed;
      try {
        const r = await fetch(`/api/v1/tags/suggest?limit=10&q=${encodeURIComponent(parts.typed)}`);
        if (!r.ok) return;
        const { tags } = await r.json();
        list.replaceChildren(...tags.map((t) => {
          const o = document.createElement("option");
          o.value = `${parts.before}${parts.sign}${term(t.tag)}`;
          o.label = `${t.tag} (${t.galleries})`;
          return o;
        }));
      } catch { /* offline: no suggestions */ }
    }, 120);
  });
}

function reorderable(list) {
  const items = () => [...list.children];
  // The typed numbers follow the order on screen.
  const renumber = () => items().forEach((li, k) => { li.querySelector("input.at").value = String(k + 1); });
  const moved = (li) => {
    renumber();
    li.classList.add("moved");
    list.closest("form")?.classList.add("dirty");
  };
  for (const li of items()) {
    li.tabIndex = 0;
    li.addEventListener("keydown", (e) => {
      if (!e.altKey) return;
      const all = items();
      const k = all.indexOf(li);
      const perRow = Math.max(1, Math.round(list.clientWidth / li.offsetWidth));
      const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -perRow, ArrowDown: perRow }[e.key];
      if (step === undefined) return;
      e.preventDefault();
      const to = Math.max(0, Math.min(all.length - 1, k + step));
      if (to === k) return;
      if (to > k) all[to].after(li); else all[to].before(li);
      moved(li);
      li.focus();
    });
  }
  // Dragging with pointer events (mouse, touch and pen alike): press on a page and move.
  let drag = null;
  list.addEventListener("pointerdown", (e) => {
    const li = e.target.closest("li");
    if (!li || e.target.closest("input, button, .page-tools a") || e.button !== 0) return;
    drag = { li, x: e.clientX, y: e.clientY, on: false, id: e.pointerId };
  });
  list.addEventListener("pointermove", (e) => {
    if (!drag || e.pointerId !== drag.id) return;
    if (!drag.on) {
      if (Math.hypot(e.clientX - drag.x, e.clientY - drag.y) < 8) return;
      drag.on = true;
      drag.li.classList.add("dragging");
      list.setPointerCapture(e.pointerId);
    }
    e.preventDefault();
    const over = document.elementFromPoint(e.clientX, e.clientY)?.closest("li");
    if (!over || over === drag.li || over.parentElement !== list) return;
    const r = over.getBoundingClientRect();
    if (e.clientX > r.left + r.width / 2) over.after(drag.li); else over.before(drag.li);
  });
  const end = (e) => {
    if (!drag || e.pointerId !== drag.id) return;
    if (drag.on) {
      drag.li.classList.remove("dragging");
      moved(drag.li);
      // The drag was not a click on the page's link.
      const stop = (c) => { c.preventDefault(); c.stopPropagation(); };
      list.addEventListener("click", stop, { capture: true, once: true });
      setTimeout(() => list.removeEventListener("click", stop, { capture: true }), 0);
    }
    drag = null;
  };
  list.addEventListener("pointerup", end);
  list.addEventListener("pointercancel", end);
  // While a drag may start, touch scrolling stays with the page until it moves sideways.
  list.addEventListener("dragstart", (e) => e.preventDefault());
}

function cropper(box) {
  const img = box.querySelector("img");
  const rect = box.querySelector(".crop-box");
  const form = document.querySelector("form.crop-form");
  if (!img || !rect || !form) return;
  const field = (n) => form.elements[n];
  const show = () => {
    const x = Number(field("x").value), y = Number(field("y").value);
    const w = Number(field("w").value), h = Number(field("h").value);
    rect.hidden = false;
    rect.style.left = `${x}%`; rect.style.top = `${y}%`;
    rect.style.width = `${w}%`; rect.style.height = `${h}%`;
  };
  const at = (e) => {
    const r = img.getBoundingClientRect();
    return [
      Math.max(0, Math.min(100, ((e.clientX - r.left) / r.width) * 100)),
      Math.max(0, Math.min(100, ((e.clientY - r.top) / r.height) * 100)),
    ];
  };
  let start = null;
  box.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    box.setPointerCapture(e.pointerId);
    start = at(e);
  });
  box.addEventListener("pointermove", (e) => {
    if (!start) return;
    const [x, y] = at(e);
    const round = (v) => String(Math.round(v * 100) / 100);
    field("x").value = round(Math.min(x, start[0]));
    field("y").value = round(Math.min(y, start[1]));
    field("w").value = round(Math.abs(x - start[0]));
    field("h").value = round(Math.abs(y - start[1]));
    show();
  });
  const done = () => { start = null; };
  box.addEventListener("pointerup", done);
  box.addEventListener("pointercancel", done);
  form.addEventListener("input", show);
  show();
}

// "Add to collection": the name field shows only when a new collection is picked.
for (const select of document.querySelectorAll("select[data-new-collection]")) {
  const field = select.form.querySelector(".new-collection");
  const input = field.querySelector("input");
  const fit = () => {
    const making = select.value === "new";
    field.hidden = !making;
    input.required = making;
  };
  select.addEventListener("change", fit);
  fit();
}
