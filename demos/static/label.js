// The labelling page. Each answer is sent to the server and saved (fsynced) there before the next pair
// is shown; while an answer is in flight, further keys and clicks are ignored.
"use strict";
(function () {
  const token = document.body.dataset.token;
  const KEYS = {
    ArrowLeft: "left", a: "left", A: "left", "1": "left",
    ArrowRight: "right", d: "right", D: "right", "2": "right",
    ArrowDown: "tie", t: "tie", T: "tie", "3": "tie",
    s: "skip", S: "skip",
    u: "undo", U: "undo", Backspace: "undo",
  };
  let state = null;
  let busy = false;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  async function api(path, body) {
    const options = { method: body ? "POST" : "GET", headers: { "X-Rlft-Token": token } };
    if (body) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    const data = await response.json();
    if (response.status === 409 && data.state) return data.state; // the page was out of date: resync
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }

  // A Markdown transcript, drawn with text nodes only (never as HTML).
  function transcript(text) {
    const box = el("div");
    const lines = text.split("\n");
    let pre = null;
    for (const line of lines) {
      if (pre !== null) {
        if (line.startsWith("```")) { box.appendChild(pre); pre = null; } else { pre.textContent += line + "\n"; }
        continue;
      }
      if (line.startsWith("```")) { pre = el("pre"); continue; }
      if (line.startsWith("# ") || line.startsWith("**Instruction:**") || line.trim() === "") continue;
      if (line.startsWith("## ")) { box.appendChild(el("div", "step", line.slice(3).replace(/`/g, ""))); continue; }
      if (line.startsWith("URL: ")) { box.appendChild(el("div", "url", line.slice(5))); continue; }
      if (line.startsWith("> error: ")) { box.appendChild(el("div", "error", "error: " + line.slice(9))); continue; }
      box.appendChild(el("div", "", line.replace(/\*\*/g, "")));
    }
    if (pre !== null) box.appendChild(pre);
    return box;
  }

  function showEpisode(side, view) {
    const content = document.querySelector("#" + side + " .content");
    content.replaceChildren();
    content.scrollTop = 0;
    if (view.kind === "image") {
      const frames = el("div", "frames");
      const figure = (src, caption) => {
        const box = el("figure");
        const img = el("img");
        img.alt = side + " episode, " + caption;
        img.src = src + "&token=" + encodeURIComponent(token);
        box.append(img, el("figcaption", "caption", caption));
        frames.appendChild(box);
      };
      figure(view.src, "the episode (animated)");
      if (view.final_src) figure(view.final_src, "last frame");
      content.appendChild(frames);
    } else if (view.kind === "text") {
      content.appendChild(transcript(view.text));
    } else {
      content.appendChild(el("div", "missing", view.text));
    }
  }

  function render() {
    const { total, labelled, counts, current } = state;
    document.getElementById("progress-text").textContent =
      labelled + " of " + total + " labelled (left " + counts.left + ", right " + counts.right +
      ", tie " + counts.tie + ", skip " + counts.skip + ")";
    document.getElementById("progress-bar").style.width = (total ? (100 * labelled) / total : 100) + "%";
    const done = current === null;
    document.getElementById("pair").hidden = done;
    document.getElementById("instruction-box").hidden = done;
    document.getElementById("done").hidden = !done;
    for (const button of document.querySelectorAll("footer button")) {
      const label = button.dataset.label;
      button.disabled = busy || (label === "undo" ? !state.can_undo : done);
    }
    document.body.dataset.pairId = done ? "" : current.pair_id;
    document.body.dataset.labelled = String(labelled);
    document.body.dataset.state = busy ? "saving" : done ? "done" : "ready";
    if (done) return;
    document.getElementById("env").textContent = current.env_id + ", goal seed " + current.goal_seed +
      ", pair " + current.position + " of " + total;
    document.getElementById("instruction").textContent = current.prompt;
    showEpisode("left", current.left);
    showEpisode("right", current.right);
  }

  function status(text, bad) {
    const node = document.getElementById("status");
    node.textContent = text;
    node.className = bad ? "bad" : "";
  }

  async function answer(label) {
    if (busy || state === null) return;
    if (label === "undo" ? !state.can_undo : state.current === null) return;
    busy = true;
    render();
    status("saving\u2026");
    try {
      state = label === "undo" ? await api("/api/undo", {}) : await api("/api/label", { pair_id: state.current.pair_id, label });
      status(label === "undo" ? "undone" : "saved: " + label);
    } catch (error) {
      status("not saved: " + error.message, true);
    } finally {
      busy = false;
      render();
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const label = KEYS[event.key];
    if (label === undefined) return;
    event.preventDefault();
    answer(label);
  });
  for (const button of document.querySelectorAll("footer button")) {
    button.addEventListener("click", () => answer(button.dataset.label));
  }

  api("/api/state").then((data) => { state = data; render(); status(""); })
    .catch((error) => status("cannot load: " + error.message, true));
})();
