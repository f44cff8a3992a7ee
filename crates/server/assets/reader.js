// The reader. The server renders the page in the URL with plain links (it reads without
// JavaScript); this module takes over the whole gallery from the data the page carries:
// one page, two-page spreads (the cover and wide pages alone) or a vertical strip (webtoon);
// left to right or right to left; fit to screen, width or original size; keyboard, tap zones,
// swipes, pinch and double-tap zoom; a page slider with thumbnail previews; preloading both ways;
// the page kept in the URL and saved as this user's progress; and the previous or next gallery
// of the search it came from at either end.
const root = document.querySelector("[data-reader]");
if (root) start(root);

function start(root) {
  const data = JSON.parse(document.getElementById("reader-data").textContent);
  const pages = data.pages.map(([hash, w, h, thumb]) => ({
    src: `/api/v1/blobs/${hash}`,
    thumb: thumb ? `/api/v1/blobs/${thumb}` : `/api/v1/thumbnails/${hash}`,
    w, h,
  }));
  const count = pages.length;
  const stage = root.querySelector(".reader-stage");
  const counter = root.querySelector(".reader-count");
  const end = root.querySelector(".reader-end");
  const endText = end.querySelector("[data-end-text]");
  const form = root.querySelector(".reader-settings");
  const settingsButton = root.querySelector("[data-settings]");
  const sliderBox = root.querySelector(".reader-slider");
  const slider = sliderBox.querySelector("input");
  const bubble = sliderBox.querySelector(".bubble");
  const csrf = document.querySelector("meta[name=csrf]")?.content;

  // Settings: mode, fit and preload for every gallery; direction per gallery (its metadata
  // decides until the reader picks one).
  const saved = read("lp.reader") || {};
  const s = {
    mode: saved.mode || (data.direction === "vertical" ? "webtoon" : "single"),
    fit: saved.fit || "height",
    preload: Number.isInteger(saved.preload) ? saved.preload : 3,
    dir: read(`lp.dir.${data.gallery}`) || (data.direction === "rtl" ? "rtl" : "ltr"),
  };
  let page = data.page;
  let scale = 1, tx = 0, ty = 0;

  function read(key) {
    try { return JSON.parse(localStorage.getItem(key)); } catch { return null; }
  }
  function write(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch { /* private mode */ }
  }

  // Spreads: which pages show together. Two-page mode keeps the cover and wide pages alone.
  let spreads = [];
  function layoutSpreads() {
    spreads = [];
    const wide = (p) => pages[p].w > pages[p].h;
    for (let i = 0; i < count;) {
      if (s.mode !== "double" || i === 0 || wide(i) || i + 1 >= count || wide(i + 1)) {
        spreads.push([i]);
        i += 1;
      } else {
        spreads.push([i, i + 1]);
        i += 2;
      }
    }
  }
  const spreadOf = (p) => spreads.findIndex((sp) => sp.includes(p));

  function image(p, lazy) {
    const img = document.createElement("img");
    img.src = pages[p].src;
    img.alt = `${data.text.page} ${p + 1}`;
    img.width = pages[p].w;
    img.height = pages[p].h;
    img.dataset.page = p;
    if (lazy) img.loading = "lazy";
    img.draggable = false;
    return img;
  }

  // ---- Drawing ---------------------------------------------------------------------------------
  let observer = null;
  function draw() {
    observer?.disconnect();
    observer = null;
    resetZoom();
    stage.className = `reader-stage mode-${s.mode} fit-${s.fit} dir-${s.dir}`;
    root.classList.toggle("webtoon", s.mode === "webtoon");
    if (s.mode === "webtoon") {
      const strip = document.createElement("div");
      strip.className = "strip";
      for (let p = 0; p < count; p++) strip.append(image(p, Math.abs(p - page) > s.preload));
      stage.replaceChildren(strip);
      strip.children[page].scrollIntoView({ block: "start" });
      observer = new IntersectionObserver((entries) => {
        for (const e of entries) {
          if (e.isIntersecting) {
            const p = Number(e.target.dataset.page);
            if (p !== page) { page = p; shown(); }
          }
        }
      }, { rootMargin: "-45% 0px -45% 0px" });
      for (const img of strip.children) observer.observe(img);
    } else {
      const zoom = document.createElement("div");
      zoom.className = "zoom";
      for (const p of spreads[spreadOf(page)]) zoom.append(image(p, false));
      stage.replaceChildren(zoom);
      window.scrollTo(0, 0);
    }
    shown();
  }

  // After the page changed: counter, slider, URL, progress, preloading.
  let saveTimer = 0;
  function shown() {
    const sp = s.mode === "webtoon" ? [page] : spreads[spreadOf(page)];
    const label = sp.map((p) => p + 1).join("–");
    counter.textContent = `${data.text.page} ${label} / ${count}`;
    slider.value = String(page + 1);
    const url = new URL(location.href);
    url.searchParams.set("page", String(page));
    history.replaceState(null, "", url);
    if (data.progress && csrf) {
      clearTimeout(saveTimer);
      const last = sp[sp.length - 1];
      saveTimer = setTimeout(() => {
        fetch(data.progress, {
          method: "PUT",
          headers: { "content-type": "application/json", "x-csrf-token": csrf },
          body: JSON.stringify({ page: last }),
        }).catch(() => {});
      }, 300);
    }
    preload();
  }

  const warm = new Map();
  function preload() {
    if (s.mode === "webtoon") return;
    const i = spreadOf(page);
    const wanted = new Set();
    for (let k = 1; k <= s.preload; k++) {
      for (const sp of [spreads[i + k], spreads[i - k]]) for (const p of sp || []) wanted.add(p);
    }
    for (const p of wanted) {
      if (!warm.has(p)) {
        const img = new Image();
        img.src = pages[p].src;
        warm.set(p, img);
      }
    }
    if (warm.size > 4 * (s.preload + 2)) {
      for (const p of warm.keys()) if (!wanted.has(p)) warm.delete(p);
    }
  }

  // ---- Moving ----------------------------------------------------------------------------------
  function go(p) {
    p = Math.max(0, Math.min(count - 1, p));
    end.hidden = true;
    if (s.mode === "webtoon") {
      page = p;
      stage.querySelector(`img[data-page="${p}"]`)?.scrollIntoView({ block: "start" });
      shown();
      return;
    }
    if (spreadOf(p) === spreadOf(page) && stage.querySelector("img")) return;
    page = p;
    draw();
  }
  function atEnd(forward) {
    const neighbour = forward ? data.next : data.previous;
    if (!end.hidden && neighbour) { location.assign(neighbour.url); return; }
    endText.textContent = forward ? data.text.end : data.text.start;
    end.hidden = false;
    end.querySelector(forward ? "a[rel=next]" : "a[rel=prev]")?.focus();
  }
  function forward() {
    if (s.mode === "webtoon") {
      if (page >= count - 1) return atEnd(true);
      return go(page + 1);
    }
    const i = spreadOf(page);
    if (i >= spreads.length - 1) return atEnd(true);
    go(spreads[i + 1][0]);
  }
  function backward() {
    if (s.mode === "webtoon") {
      if (page <= 0) return atEnd(false);
      return go(page - 1);
    }
    const i = spreadOf(page);
    if (i <= 0) return atEnd(false);
    go(spreads[i - 1][0]);
  }
  // Left and right on screen, which mean back and forth by the reading direction.
  const left = () => (s.dir === "rtl" ? forward() : backward());
  const right = () => (s.dir === "rtl" ? backward() : forward());

  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement || e.altKey || e.ctrlKey || e.metaKey) return;
    const vertical = s.mode === "webtoon";
    switch (e.key) {
      case "ArrowRight": e.preventDefault(); right(); break;
      case "ArrowLeft": e.preventDefault(); left(); break;
      case " ": case "PageDown":
        if (vertical) return;
        e.preventDefault(); e.shiftKey ? backward() : forward(); break;
      case "PageUp":
        if (vertical) return;
        e.preventDefault(); backward(); break;
      case "Home": e.preventDefault(); go(0); break;
      case "End": e.preventDefault(); go(count - 1); break;
      case "f":
        if (document.fullscreenElement) document.exitFullscreen();
        else document.documentElement.requestFullscreen?.().catch(() => {});
        break;
      case "Escape":
        if (!form.hidden) toggleSettings(false);
        else if (!end.hidden) end.hidden = true;
        break;
      default: return;
    }
  });

  // ---- Touch and pointer: tap zones, swipes, pinch and double-tap zoom -------------------------
  function applyZoom() {
    const z = stage.querySelector(".zoom");
    if (!z) return;
    z.style.transform = scale === 1 ? "" : `translate(${tx}px, ${ty}px) scale(${scale})`;
    stage.classList.toggle("zoomed", scale > 1);
  }
  function resetZoom() { scale = 1; tx = 0; ty = 0; applyZoom(); }
  function zoomAt(x, y, to) {
    const r = stage.getBoundingClientRect();
    const cx = x - r.left - r.width / 2, cy = y - r.top - r.height / 2;
    const k = to / scale;
    tx = cx - (cx - tx) * k;
    ty = cy - (cy - ty) * k;
    scale = to;
    if (scale <= 1.01) { resetZoom(); return; }
    applyZoom();
  }

  let touch = null; // {x, y, t, pinch: {d, scale}, moved}
  let lastTap = 0;
  let tapTimer = 0;
  const dist = (a, b) => Math.hypot(a.clientX - b.clientX, a.clientY - b.clientY);
  stage.addEventListener("touchstart", (e) => {
    if (s.mode === "webtoon") return;
    if (e.touches.length === 2) {
      touch = { pinch: { d: dist(e.touches[0], e.touches[1]), scale }, moved: true };
    } else if (e.touches.length === 1) {
      const t = e.touches[0];
      touch = { x: t.clientX, y: t.clientY, tx, ty, moved: false };
    }
  }, { passive: true });
  stage.addEventListener("touchmove", (e) => {
    if (!touch || s.mode === "webtoon") return;
    if (touch.pinch && e.touches.length === 2) {
      e.preventDefault();
      const [a, b] = e.touches;
      const to = Math.min(5, Math.max(1, touch.pinch.scale * dist(a, b) / touch.pinch.d));
      zoomAt((a.clientX + b.clientX) / 2, (a.clientY + b.clientY) / 2, to);
    } else if (e.touches.length === 1 && touch.x !== undefined) {
      const t = e.touches[0];
      const dx = t.clientX - touch.x, dy = t.clientY - touch.y;
      if (Math.abs(dx) + Math.abs(dy) > 10) touch.moved = true;
      if (scale > 1) {
        e.preventDefault();
        tx = touch.tx + dx; ty = touch.ty + dy;
        applyZoom();
      }
    }
  }, { passive: false });
  stage.addEventListener("touchend", (e) => {
    if (!touch || s.mode === "webtoon" || e.touches.length > 0) return;
    const t = e.changedTouches[0];
    const was = touch;
    touch = null;
    if (was.pinch || was.x === undefined) return;
    const dx = t.clientX - was.x, dy = t.clientY - was.y;
    if (scale === 1 && Math.abs(dx) > 50 && Math.abs(dx) > 1.5 * Math.abs(dy)) {
      e.preventDefault();
      if (dx < 0) right(); else left();
      return;
    }
    if (!was.moved) {
      e.preventDefault(); // the tap is handled here, not again as a click
      tap(t.clientX, t.clientY);
    }
  });
  stage.addEventListener("click", (e) => {
    if (s.mode === "webtoon") return;
    e.preventDefault();
    tap(e.clientX, e.clientY);
  });
  stage.addEventListener("dblclick", (e) => e.preventDefault());

  // A tap: the outer thirds turn the page (unless zoomed); the middle shows or hides the bars,
  // and a second tap there soon after zooms in or out.
  function tap(x, y) {
    const r = stage.getBoundingClientRect();
    const third = (x - r.left) / r.width;
    const now = Date.now();
    if (third > 1 / 3 && third < 2 / 3) {
      if (now - lastTap < 300) {
        clearTimeout(tapTimer);
        lastTap = 0;
        zoomAt(x, y, scale > 1 ? 1 : 2.5);
        return;
      }
      lastTap = now;
      tapTimer = setTimeout(() => root.classList.toggle("bare"), 300);
      return;
    }
    if (scale > 1) return;
    if (third <= 1 / 3) left(); else right();
  }

  // ---- Slider with a page bubble and thumbnail ---------------------------------------------------
  slider.max = String(count);
  sliderBox.hidden = count < 2;
  sliderBox.dir = s.dir === "rtl" ? "rtl" : "ltr";
  function showBubble() {
    const v = Number(slider.value);
    bubble.hidden = false;
    bubble.querySelector("span").textContent = String(v);
    bubble.querySelector("img").src = pages[v - 1].thumb;
    const share = count > 1 ? (v - 1) / (count - 1) : 0;
    const place = s.dir === "rtl" ? 1 - share : share;
    bubble.style.left = `calc(${place * 100}% + ${(0.5 - place) * 20}px)`;
  }
  slider.addEventListener("input", showBubble);
  slider.addEventListener("change", () => { bubble.hidden = true; go(Number(slider.value) - 1); });
  slider.addEventListener("pointerup", () => { bubble.hidden = true; });
  slider.addEventListener("blur", () => { bubble.hidden = true; });

  // ---- Settings --------------------------------------------------------------------------------
  function toggleSettings(open) {
    form.hidden = !open;
    settingsButton.setAttribute("aria-expanded", String(open));
    if (open) form.querySelector("input:checked")?.focus();
  }
  settingsButton.hidden = false;
  settingsButton.addEventListener("click", () => toggleSettings(form.hidden));
  form.elements.mode.value = s.mode;
  form.elements.dir.value = s.dir;
  form.elements.fit.value = s.fit;
  form.elements.preload.value = String(s.preload);
  form.addEventListener("submit", (e) => e.preventDefault());
  form.addEventListener("change", () => {
    s.mode = form.elements.mode.value;
    s.dir = form.elements.dir.value;
    s.fit = form.elements.fit.value;
    s.preload = Math.max(0, Math.min(10, Number(form.elements.preload.value) || 0));
    write("lp.reader", { mode: s.mode, fit: s.fit, preload: s.preload });
    write(`lp.dir.${data.gallery}`, s.dir);
    sliderBox.dir = s.dir;
    layoutSpreads();
    draw();
  });

  // The server's links are for browsers without this module; the slider and keys replace them.
  for (const a of root.querySelectorAll(".reader-foot > a, .reader-foot > span")) a.hidden = true;
  root.classList.add("live");
  layoutSpreads();
  draw();
  stage.focus({ preventScroll: true });
}
