/* Live preview (publisher preview only; never written into a built site).

   The server adds this script to every page it sends. It listens for
   builds (server-sent events, or polling status.json where EventSource is
   missing); after a good build the page reloads, back at the same scroll
   position and player time, and the first changed sentence is outlined with
   a button that plays it from its start. It plays by itself only when the
   reader has ticked "Play changed sentences at once". A failed build is shown
   at the top of the page, which keeps the last good book. */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script) {
    return;
  }
  var route = script.getAttribute("data-route") || "/__preview__/";
  var mine = Number(script.getAttribute("data-generation")) || 0;
  var PLACE_KEY = "publisher-preview-place";
  var AUTOPLAY_KEY = "publisher-preview-autoplay";
  var CHANGED = "preview-changed";

  function storage(kind) {
    try {
      return window[kind];
    } catch (error) {
      return null;  // storage may be off: the page then simply reloads at the top
    }
  }
  var session = storage("sessionStorage");
  var local = storage("localStorage");

  function onReady(callback) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", callback);
    } else {
      callback();
    }
  }

  onReady(function () {
    var audio = document.querySelector("audio[data-readalong]") ||
      document.querySelector("audio");

    /* ------------------------------------------------------------ the panel */

    var style = document.createElement("style");
    style.textContent =
      "#preview-panel{position:fixed;inset-inline-end:1rem;inset-block-end:1rem;" +
      "max-width:min(32rem,calc(100vw - 2rem));z-index:1000;padding:.75rem 1rem;" +
      "border:2px solid currentColor;border-radius:.5rem;background:Canvas;color:CanvasText;" +
      "font:inherit;box-shadow:0 .25rem 1rem rgba(0,0,0,.3)}" +
      "#preview-panel p{margin:.25rem 0}" +
      "#preview-panel button{font:inherit;margin-block:.25rem}" +
      "#preview-error{border:3px solid #b00020;padding:.75rem 1rem;margin:0;" +
      "background:Canvas;color:CanvasText;white-space:pre-wrap;font:inherit}" +
      "." + CHANGED + "{outline:3px dashed #b35900;outline-offset:2px}";
    document.head.appendChild(style);

    var error = document.createElement("div");
    error.id = "preview-error";
    error.setAttribute("role", "alert");
    error.hidden = true;
    document.body.insertBefore(error, document.body.firstChild);

    var panel = document.createElement("aside");
    panel.id = "preview-panel";
    panel.setAttribute("aria-label", "Preview");
    var status = document.createElement("p");
    status.id = "preview-status";
    status.setAttribute("role", "status");
    var play = document.createElement("button");
    play.type = "button";
    play.id = "preview-play";
    play.textContent = "Play the changed sentence";
    play.hidden = true;
    var open = document.createElement("a");
    open.id = "preview-open";
    open.hidden = true;
    var option = document.createElement("p");
    var label = document.createElement("label");
    var autoplay = document.createElement("input");
    autoplay.type = "checkbox";
    autoplay.id = "preview-autoplay";
    label.appendChild(autoplay);
    label.appendChild(document.createTextNode(" Play changed sentences at once"));
    option.appendChild(label);
    panel.appendChild(status);
    panel.appendChild(play);
    panel.appendChild(open);
    panel.appendChild(option);
    document.body.appendChild(panel);

    autoplay.checked = Boolean(local && local.getItem(AUTOPLAY_KEY) === "1");
    autoplay.addEventListener("change", function () {
      if (local) {
        local.setItem(AUTOPLAY_KEY, autoplay.checked ? "1" : "0");
      }
    });

    /* ------------------------------------------------------------ position */

    function keepPlace() {
      if (!session) {
        return;
      }
      session.setItem(PLACE_KEY, JSON.stringify({
        path: window.location.pathname,
        y: window.scrollY,
        time: audio ? audio.currentTime : 0,
        reloaded: true
      }));
    }

    var place = null;
    if (session) {
      try {
        place = JSON.parse(session.getItem(PLACE_KEY) || "null");
      } catch (error2) {
        place = null;
      }
      session.removeItem(PLACE_KEY);
    }
    if (place && place.path === window.location.pathname) {
      window.scrollTo(0, place.y || 0);
      if (audio && place.time) {
        var seek = function () { audio.currentTime = place.time; };
        if (audio.readyState >= 1) {
          seek();
        } else {
          audio.addEventListener("loadedmetadata", seek, { once: true });
        }
      }
    } else {
      place = null;
    }

    /* ------------------------------------------------------------ the changed sentence */

    var target = null;

    function playFrom(el) {
      if (!audio) {
        return;
      }
      var start = Number(el.getAttribute("data-start-ms")) / 1000;
      var go = function () {
        audio.currentTime = start;
        var playing = audio.play();
        if (playing && playing.catch) {
          playing.catch(function () { /* the reader can still press play */ });
        }
      };
      if (audio.readyState >= 1) {
        go();
      } else {
        audio.addEventListener("loadedmetadata", go, { once: true });
        audio.load();
      }
    }

    play.addEventListener("click", function () {
      if (target) {
        target.scrollIntoView({ block: "center" });
        playFrom(target);
      }
    });

    function show(state) {
      if (state.error) {
        error.textContent = "Preview: the last save did not build, so this page shows the " +
          "last good build.\n" + state.error;
        error.hidden = false;
      } else {
        error.hidden = true;
        error.textContent = "";
      }
      var changes = state.generation === mine ? (state.changed || []) : [];
      var first = changes[0];
      var old = document.querySelectorAll("." + CHANGED);
      for (var i = 0; i < old.length; i++) {
        old[i].classList.remove(CHANGED);
      }
      target = null;
      play.hidden = true;
      open.hidden = true;
      if (!first) {
        status.textContent = state.error ? "Preview: waiting for a fix." :
          "Preview: watching the source; this page reloads when you save.";
        return;
      }
      var more = changes.length > 1 ? " (and " + (changes.length - 1) + " more)" : "";
      var el = document.getElementById(first.id);
      if (el && el.hasAttribute("data-start-ms")) {
        target = el;
        el.classList.add(CHANGED);
        status.textContent = "Changed" + more + ": \u201c" + first.text + "\u201d";
        play.hidden = !audio;
        if (place && place.reloaded && autoplay.checked) {
          playFrom(el);
        }
      } else {
        status.textContent = "Changed" + more + " in \u201c" + first.section + "\u201d: \u201c" +
          first.text + "\u201d";
        open.href = first.page + "#" + first.id;
        open.textContent = "Open that section";
        open.hidden = false;
      }
    }

    /* ------------------------------------------------------------ builds */

    var seen = -1;

    function onState(state) {
      seen = state.attempt;
      if (state.generation > mine && !state.error) {
        keepPlace();
        window.location.reload();
        return;
      }
      show(state);
    }

    if (window.EventSource) {
      var events = new window.EventSource(route + "events?attempt=-1");
      events.addEventListener("build", function (event) {
        onState(JSON.parse(event.data));
      });
      window.addEventListener("pagehide", function () { events.close(); });
    } else {
      var poll = function () {
        var request = new window.XMLHttpRequest();
        request.open("GET", route + "status.json");
        request.onload = function () {
          var state = JSON.parse(request.responseText);
          if (state.attempt !== seen) {
            onState(state);
          }
        };
        request.send();
      };
      poll();
      window.setInterval(poll, 1000);
    }
  });
}());
