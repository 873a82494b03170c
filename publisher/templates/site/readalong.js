/* Read-along for one section page: highlight the sentence being spoken, and
   play from a sentence when it is clicked, or on Enter or Space.

   Timings come from the page itself: every sentence <span> carries
   data-start-ms and data-end-ms, its exact place in the section's MP3.
   Without this script the text and the player work as they are.

   This script never moves focus, and scrolls only if the reader asks for it
   ("Keep the sentence being read in view"), only when the sentence has left
   the window, and without animation when the reader prefers reduced motion. */
(function () {
  "use strict";

  var ACTIVE = "-epub-media-overlay-active";
  var FOLLOW_KEY = "publisher-follow";

  var audio = document.querySelector("audio[data-readalong]");
  var text = document.getElementById("site-text");
  if (!audio || !text) {
    return;
  }
  var hint = document.getElementById("site-play-hint");
  var follow = document.getElementById("site-follow");
  var reducedMotion = window.matchMedia &&
    window.matchMedia("(prefers-reduced-motion: reduce)");

  var sentences = [];
  var nodes = document.querySelectorAll("main [data-start-ms]");
  for (var i = 0; i < nodes.length; i++) {
    var start = Number(nodes[i].getAttribute("data-start-ms"));
    var end = Number(nodes[i].getAttribute("data-end-ms"));
    if (isFinite(start) && isFinite(end) && end > start) {
      sentences.push({ el: nodes[i], start: start / 1000, end: end / 1000 });
    }
  }
  if (!sentences.length) {
    return;
  }
  sentences.sort(function (a, b) { return a.start - b.start; });

  /* ---------------------------------------------------------- highlight */

  var current = null;
  var frame = 0;

  function sentenceAt(seconds) {
    var low = 0;
    var high = sentences.length - 1;
    var found = -1;
    while (low <= high) {  // the last sentence starting at or before `seconds`
      var middle = (low + high) >> 1;
      if (sentences[middle].start <= seconds) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    if (found < 0 || seconds >= sentences[found].end) {
      return null;
    }
    return sentences[found];
  }

  function inView(el) {
    var box = el.getBoundingClientRect();
    var height = window.innerHeight || document.documentElement.clientHeight;
    return box.bottom > 0 && box.top < height;
  }

  function show(sentence) {
    if (sentence === current) {
      return;
    }
    if (current) {
      current.el.classList.remove(ACTIVE);
    }
    current = sentence;
    if (!sentence) {
      return;
    }
    sentence.el.classList.add(ACTIVE);
    if (follow && follow.checked && !audio.paused && !inView(sentence.el)) {
      sentence.el.scrollIntoView({
        block: "center",
        behavior: reducedMotion && reducedMotion.matches ? "auto" : "smooth"
      });
    }
  }

  function update() {
    show(audio.ended ? null : sentenceAt(audio.currentTime));
  }

  // timeupdate fires only a few times a second: follow each frame while playing.
  function tick() {
    update();
    frame = audio.paused ? 0 : window.requestAnimationFrame(tick);
  }

  audio.addEventListener("play", function () {
    if (!frame) {
      frame = window.requestAnimationFrame(tick);
    }
  });
  ["timeupdate", "seeked", "pause", "ended", "loadedmetadata"].forEach(function (name) {
    audio.addEventListener(name, update);
  });

  /* ---------------------------------------------------------- play from here */

  function playFrom(sentence) {
    audio.currentTime = sentence.start;
    show(sentence);
    var playing = audio.play();
    if (playing && playing.catch) {
      playing.catch(function () { /* the reader can still press play */ });
    }
  }

  function sentenceOf(el) {
    for (var j = 0; j < sentences.length; j++) {
      if (sentences[j].el === el) {
        return sentences[j];
      }
    }
    return null;
  }

  function isLinked(el) {
    return Boolean(el.closest && el.closest("a[href]"));
  }

  var describedBy = hint ? hint.id : "";
  sentences.forEach(function (sentence) {
    var el = sentence.el;
    el.classList.add("readalong-sentence");
    if (isLinked(el)) {
      return;  // a sentence inside a link: the link keeps its own meaning
    }
    el.setAttribute("tabindex", "0");
    if (describedBy) {
      el.setAttribute("aria-describedby", describedBy);
    }
  });

  document.querySelector("main").addEventListener("click", function (event) {
    var target = event.target;
    if (isLinked(target) || (target.closest && target.closest("a, button, input, audio"))) {
      return;  // links inside a sentence still go where they point
    }
    var el = target.closest ? target.closest("[data-start-ms]") : null;
    var selection = window.getSelection ? window.getSelection() : null;
    if (!el || (selection && !selection.isCollapsed && selection.toString())) {
      return;  // selecting text to copy is not a request to play
    }
    var sentence = sentenceOf(el);
    if (sentence) {
      playFrom(sentence);
    }
  });

  document.querySelector("main").addEventListener("keydown", function (event) {
    var el = event.target;
    if (!el.hasAttribute || !el.hasAttribute("data-start-ms") ||
        event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    if (event.key === "Enter" || event.key === " " || event.key === "Spacebar") {
      event.preventDefault();  // Space would scroll the page
      if (!event.repeat) {
        var sentence = sentenceOf(el);
        if (sentence) {
          playFrom(sentence);
        }
      }
    }
  });

  /* ---------------------------------------------------------- options */

  if (hint) {
    hint.hidden = false;
  }
  if (follow) {
    try {
      follow.checked = window.localStorage.getItem(FOLLOW_KEY) === "1";
    } catch (error) { /* storage may be off: the option then lasts one page */ }
    follow.addEventListener("change", function () {
      try {
        window.localStorage.setItem(FOLLOW_KEY, follow.checked ? "1" : "0");
      } catch (error) { /* as above */ }
      if (follow.checked && current && !audio.paused && !inView(current.el)) {
        current.el.scrollIntoView({ block: "center", behavior: "auto" });
      }
    });
    follow.closest(".follow").hidden = false;
  }
  document.documentElement.classList.add("readalong");
  update();
}());
