// The candidate's exam page: renders each server `state`, keeps the section's
// items, and sends answers, marks and "finish section" through one serialised
// queue kept in localStorage, so nothing chosen is lost to a dropped
// connection or a reload. Protocol: docs/protocol.md. Every word shown comes
// from the page's #exam-strings block (Flask-Babel), none is written here.
(function () {
  'use strict';

  var config = JSON.parse(document.getElementById('exam-config').textContent);
  var STRINGS = JSON.parse(document.getElementById('exam-strings').textContent);
  var QUEUE_KEY = 'cat-exam-queue-' + config.attempt;
  var OLD_PENDING_KEY = 'cat-exam-pending-' + config.attempt; // the one-answer page before sections
  var ACK_TIMEOUT_MS = 10000;
  var RETRY_MS = 2000;
  var SYNC_EVERY_MS = 60000;
  var LOW_TIME_S = 5 * 60;
  var WARNINGS = [{at: 10 * 60, key: 'warn_10'}, {at: 5 * 60, key: 'warn_5'}];
  var WARNING_SHOWN_MS = 20000;
  var LETTERS = ['A', 'B', 'C', 'D', 'E'];
  var EVENTS = {answer: 'answer', mark: 'mark', finish: 'finish_section'};

  var el = {
    screen: byId('screen'),
    offline: byId('offline-banner'),
    offlineQueued: byId('offline-queued'),
    banners: byId('exam-banners'),
    timeWarning: byId('time-warning'),
    timeWarningText: byId('time-warning-text'),
    message: byId('message'),
    connDot: byId('conn-dot'),
    sectionTabs: byId('section-tabs'),
    section: byId('section-name'),
    progress: byId('progress'),
    progressFill: byId('progress-fill'),
    countdown: byId('countdown'),
    countdownLabel: byId('countdown-label'),
    clocks: byId('exam-clocks'),
    examClock: byId('exam-clock'),
    examClockLabel: byId('exam-clock-label'),
    examCountdown: byId('exam-countdown'),
    adaptiveNote: byId('adaptive-note'),
    navigator: byId('navigator'),
    strip: byId('item-strip'),
    sectionAnswered: byId('section-answered'),
    itemNumber: byId('item-number'),
    itemMain: byId('item-main'),
    topbar: document.querySelector('.topbar'),
    moreBelow: byId('more-below'),
    stem: byId('item-stem'),
    media: byId('item-media'),
    options: byId('options'),
    linearActions: byId('linear-actions'),
    navActions: byId('nav-actions'),
    submit: byId('submit-answer'),
    saving: byId('saving'),
    navSaving: byId('nav-saving'),
    prev: byId('prev-item'),
    next: byId('next-item'),
    mark: byId('mark-item'),
    finishSection: byId('finish-section'),
    allAnswered: byId('all-answered'),
    keysLinear: byId('keys-linear'),
    keysNav: byId('keys-nav'),
    dialog: byId('finish-dialog'),
    dialogSection: byId('finish-dialog-section'),
    dialogUnanswered: byId('finish-unanswered'),
    dialogMarked: byId('finish-marked'),
    dialogConfirm: byId('finish-confirm'),
    dialogTitle: byId('finish-dialog-title'),
    dialogLast: byId('finish-dialog-last'),
    dialogNote: byId('finish-dialog-note'),
    summary: byId('finish-exam-summary'),
    dialogCounts: byId('finish-counts'),
    summaryRows: byId('finish-summary-rows'),
    summaryAnswered: byId('finish-summary-answered'),
    summaryBlank: byId('finish-summary-blank'),
    summaryMarked: byId('finish-summary-marked'),
    reviewUnanswered: byId('review-unanswered'),
    reviewMarked: byId('review-marked'),
    dialogCancel: byId('finish-cancel'),
    blocked: byId('blocked'),
    blockedTitle: byId('blocked-title'),
    refusedTitle: byId('refused-title'),
    pausedTime: byId('paused-time'),
    blockedRetry: byId('blocked-retry'),
    finishReason: byId('finish-reason'),
    finishCount: byId('finish-count'),
    resultTable: byId('result-table'),
    result: byId('result'),
    resultRows: byId('result-rows'),
    resultTotal: byId('result-total'),
    resultPassTotal: byId('result-pass-total'),
    resultPassed: byId('result-passed')
  };

  var state = null; // the latest state from the server
  var items = {}; // seq -> public item of the current section, kept across `full: false` states
  var itemsSection = null; // the section index `items` belongs to
  var serverAnswers = {}; // seq -> choice: the server's answer sheet of the section
  var serverMarked = {}; // seq -> true
  var closedCounts = {}; // section code -> {items, answered, marked}: from full states, never changes
  var current = null; // the seq on screen in a navigable section
  var selected = null; // linear/adaptive: the option chosen but not yet sent
  var renderedKey = null; // "seq:item" of the item on screen
  var stripKey = null; // the section whose number buttons are in the strip
  var queue = loadQueue(); // ops not yet acknowledged, oldest first
  var inFlight = null; // the op sent and awaiting its acknowledgement (never more than one)
  var sendToken = 0; // bumps on every send and disconnect: stale acks are ignored
  var holdUntil = 0; // after a `retry` error nothing is sent before this time
  var holdTimer = null;
  var syncAsked = 0;
  var deadline = null; // performance.now() at which the remaining time reaches zero
  // which clock the countdown shows: 'exam', or 'section:<index>' while the
  // current section has a time limit of its own (`section_remaining_s`)
  var clockKey = null;
  var lastZeroSync = 0;
  // the exam's own clock, shown beside a timed section's clock
  var examDeadline = null;
  var examPausedLeft = null;
  var warned = {};
  var warningTimer = null;
  var blocked = false;
  var ended = false; // the server ended this login's session: off to the login page
  var pausedLeft = null; // remaining seconds frozen by a proctor's pause
  var focusGone = false; // the exam window lost focus and has not had it back

  function byId(id) {
    return document.getElementById(id);
  }

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // t('item_of', {n: 3, total: 30}): the page's translated string with {name} filled in
  function t(key, vars) {
    var text = STRINGS[key] === undefined ? key : String(STRINGS[key]);
    Object.keys(vars || {}).forEach(function (name) {
      text = text.split('{' + name + '}').join(String(vars[name]));
    });
    return text;
  }

  function serverMessage(ack) {
    if (config.lang === 'en' && ack.message_en) return ack.message_en;
    return ack.message || ack.message_en || t('error_generic');
  }

  // --- the queue: survives a lost connection and a page reload ---------------

  function loadQueue() {
    var loaded = [];
    try {
      var raw = window.localStorage.getItem(QUEUE_KEY);
      var value = raw ? JSON.parse(raw) : [];
      if (Array.isArray(value)) {
        loaded = value.filter(function (op) {
          return op && op.attempt === config.attempt && EVENTS[op.kind];
        });
      }
      var old = JSON.parse(window.localStorage.getItem(OLD_PENDING_KEY) || 'null');
      if (old && old.attempt === config.attempt) {
        loaded.unshift({kind: 'answer', attempt: old.attempt, seq: old.seq, item: old.item,
          choice: old.choice});
      }
      window.localStorage.removeItem(OLD_PENDING_KEY);
    } catch (e) {
      // storage disabled or garbled: start empty, the server holds every acknowledged answer
    }
    return loaded;
  }

  function saveQueue() {
    try {
      if (queue.length) window.localStorage.setItem(QUEUE_KEY, JSON.stringify(queue));
      else window.localStorage.removeItem(QUEUE_KEY);
    } catch (e) {
      // storage full or disabled: the in-memory queue still covers a dropped socket
    }
  }

  // A newer answer (or mark) for the same seq replaces an older one not yet
  // sent; one already sent stays, and the newer follows it, in order.
  function enqueue(op) {
    op.attempt = config.attempt;
    var replaced = false;
    if (op.kind !== 'finish') {
      for (var i = 0; i < queue.length; i++) {
        if (queue[i] !== inFlight && queue[i].kind === op.kind && queue[i].seq === op.seq) {
          queue[i] = op;
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) queue.push(op);
    saveQueue();
    render();
    pump();
  }

  function dropOp(op) {
    var index = queue.indexOf(op);
    if (index >= 0) queue.splice(index, 1);
    saveQueue();
  }

  function clearQueue() {
    queue = [];
    inFlight = null;
    saveQueue();
  }

  function payloadOf(op) {
    if (op.kind === 'answer') return {attempt: op.attempt, seq: op.seq, item: op.item, choice: op.choice};
    if (op.kind === 'mark') return {attempt: op.attempt, seq: op.seq, marked: op.marked};
    return {attempt: op.attempt, section: op.section};
  }

  function pump() {
    if (inFlight || blocked || !queue.length || !socket.connected) return;
    if (state && state.paused) return; // a proctor's pause: kept until the state says resumed
    var wait = holdUntil - Date.now();
    if (wait > 0) {
      clearTimeout(holdTimer);
      holdTimer = setTimeout(pump, wait);
      return;
    }
    var op = queue[0];
    var token = ++sendToken;
    inFlight = op;
    renderBusy();
    socket.timeout(ACK_TIMEOUT_MS).emit(EVENTS[op.kind], payloadOf(op), function (err, ack) {
      if (token !== sendToken) return;
      inFlight = null;
      if (err) {
        // no acknowledgement in time: start a fresh connection and send the
        // same op again once it is up (never a second copy alongside this one)
        reconnect();
        return;
      }
      handleAck(op, ack);
    });
  }

  function handleAck(op, ack) {
    if (!ack || typeof ack !== 'object') {
      hold();
      return;
    }
    if (ack.ok) {
      dropOp(op);
      hideMessage();
      if (ack.state) applyState(ack.state);
      else render();
      pump();
      return;
    }
    switch (ack.error) {
      case 'retry':
        showMessage(serverMessage(ack), 'warn');
        hold();
        renderBusy();
        return;
      case 'paused':
        // nothing was stored: keep the op; it goes once a state says the pause is over
        showMessage(serverMessage(ack), 'warn');
        if (ack.state) applyState(ack.state);
        else requestSync();
        return;
      case 'not_found':
        clearQueue();
        window.location.assign(config.login);
        return;
      case 'session_ended':
        // nothing was stored; the queue stays for this attempt's next login here
        leaveForLogin();
        return;
      case 'time_up':
        clearQueue();
        showMessage(serverMessage(ack), 'error');
        break;
      default:
        // wrong_seq, section_over, section_time_up, not_in_progress, invalid_choice,
        // bad_payload: this op is void (nothing was stored)
        dropOp(op);
        showMessage(serverMessage(ack), 'error');
    }
    if (ack.state) applyState(ack.state);
    else if (socket.connected) requestSync();
    else render();
    pump();
  }

  function hold() {
    holdUntil = Date.now() + RETRY_MS;
    clearTimeout(holdTimer);
    holdTimer = setTimeout(pump, RETRY_MS);
  }

  function reconnect() {
    socket.disconnect();
    setTimeout(function () {
      if (!blocked) socket.connect();
    }, RETRY_MS);
  }

  function requestSync() {
    socket.timeout(ACK_TIMEOUT_MS).emit('sync', function (err, ack) {
      if (!err && ack && ack.ok && ack.state) applyState(ack.state);
    });
  }

  // --- socket ----------------------------------------------------------------

  // This browser's own id, kept across reloads: the server tells this
  // workstation coming back after a drop from a second one using the same login.
  function deviceId() {
    var key = 'cat-exam-device';
    try {
      var id = window.localStorage.getItem(key);
      if (!id) {
        id = Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 12);
        window.localStorage.setItem(key, id);
      }
      return id;
    } catch (e) {
      return null;
    }
  }

  // The /exam contract this page was written for (docs/protocol.md, "Versions").
  var PROTOCOL = 2;
  var RELOADED_KEY = 'cat-exam-protocol-reload';

  var socket = io('/exam', {auth: {device: deviceId(), protocol: PROTOCOL}});

  socket.on('connect', function () {
    setOnline(true);
    try { window.sessionStorage.removeItem(RELOADED_KEY); } catch (e) { /* none */ }
    // the server sends `state` on connect; the queue is sent again from there
  });

  // The server ended this login (logout elsewhere, PIN reset, seat move, the
  // proctor, idle time): the login page says why. The socket closes right after.
  socket.on('session_ended', leaveForLogin);

  function leaveForLogin() {
    ended = true;
    socket.disconnect();
    window.location.assign(config.login);
  }

  socket.on('disconnect', function (reason) {
    setOnline(false);
    if (ended) return;
    if (reason === 'io server disconnect') {
      // the server closes a socket when the same login connected again from
      // another window: reconnecting here would take it back and forth
      showBlocked(true);
    }
    sendToken += 1; // an ack for a send before the drop will not come; resend after `state`
    inFlight = null;
    renderBusy();
  });

  socket.on('connect_error', function (err) {
    if (isAlreadyConnected(err)) {
      showBlocked(true);
      return;
    }
    if (socket.active) {
      setOnline(false); // the server is unreachable: the client keeps trying by itself
      return;
    }
    if (refusalCode(err) === 'retry') {
      // the server is up but its database was busy or down: try again shortly
      setOnline(false);
      setTimeout(function () {
        if (!blocked && !socket.connected) socket.connect();
      }, RETRY_MS);
      return;
    }
    if (refusalCode(err) === 'protocol_mismatch') {
      // the server was updated under this page: load the new page once (the
      // answers waiting in the queue stay in localStorage); a second mismatch
      // means something is wrong with the installation: call the proctor
      var reloaded = null;
      try { reloaded = window.sessionStorage.getItem(RELOADED_KEY); } catch (e) { /* none */ }
      if (!reloaded) {
        try { window.sessionStorage.setItem(RELOADED_KEY, '1'); } catch (e) { /* none */ }
        window.location.reload();
        return;
      }
      showBlocked(false);
      return;
    }
    if (refusalCode(err) === 'session_ended') {
      leaveForLogin();
      return;
    }
    if (refusalCode(err) === 'login_required' || (err && err.message === 'Candidate login required.')) {
      window.location.assign(config.login);
      return;
    }
    // refused for a reason this page does not know: going to the login page
    // would come straight back here, so ask for the proctor instead
    showBlocked(false);
  });

  // python-socketio sends ConnectionRefusedError(*args) as {message: args[0], data: args[1]}:
  // the client gets err.message = args[0] and err.data = args[1]; accept the code in either.
  function refusalCode(err) {
    if (!err) return null;
    var data = err.data;
    if (data && typeof data === 'object' && (data.error || data.code)) return data.error || data.code;
    if (typeof data === 'string') return data;
    return err.message || null;
  }

  function isAlreadyConnected(err) {
    return refusalCode(err) === 'already_connected' || (!!err && err.message === 'already_connected');
  }

  function showBlocked(otherWorkstation) {
    blocked = true;
    socket.disconnect();
    el.blockedTitle.hidden = !otherWorkstation;
    el.refusedTitle.hidden = otherWorkstation;
    el.blocked.hidden = false;
    el.blockedRetry.focus();
  }

  el.blockedRetry.addEventListener('click', function () {
    blocked = false;
    el.blocked.hidden = true;
    socket.connect();
  });

  socket.on('state', function (next) {
    applyState(next, true); // pushed unasked: the proctor, or the server's own clock
  });

  socket.on('exam_error', function () {
    // the same object arrives as the failed acknowledgement, handled there
  });

  // --- state -----------------------------------------------------------------

  function sectionOf(s) {
    return s && s.status === 'in_progress' && s.section ? s.section : null;
  }

  function isNavigable() {
    var section = sectionOf(state);
    return !!section && section.navigable === true && typeof section.first_seq === 'number';
  }

  function applyState(next, pushed) {
    if (!next || next.attempt !== config.attempt) return;
    state = next;
    (next.sections || []).forEach(function (s) {
      if (s.status === 'done' && typeof s.answered === 'number') closedCounts[s.code] = s;
    });
    var section = sectionOf(next);
    if (section) {
      var index = section.index === undefined ? section.code : section.index;
      if (index !== itemsSection) {
        itemsSection = index;
        items = {};
        serverAnswers = {};
        serverMarked = {};
        current = null;
      }
      (next.items || []).forEach(function (entry) {
        items[entry.seq] = entry.item;
      });
      if (next.item && typeof next.seq === 'number') items[next.seq] = next.item;
      if (next.answers) serverAnswers = next.answers;
      if (next.marked) {
        serverMarked = {};
        next.marked.forEach(function (seq) { serverMarked[seq] = true; });
      }
      if (isNavigable()) {
        if (current === null || current < section.first_seq || current > section.last_seq) {
          current = typeof next.seq === 'number' ? next.seq : section.first_seq;
        }
        if (missingItems(section) && Date.now() - syncAsked > 5000 && socket.connected) {
          syncAsked = Date.now(); // a `full` state brings them all
          requestSync();
        }
      }
    } else {
      itemsSection = null;
      items = {};
      current = null;
    }
    // a section with its own time limit shows its clock; otherwise the exam's
    var sectionClock = typeof next.section_remaining_s === 'number';
    var left = sectionClock ? next.section_remaining_s : next.remaining_s;
    if (typeof left === 'number') {
      var key = sectionClock ? 'section:' + (section ? section.index : '') : 'exam';
      var shown = pausedLeft !== null ? pausedLeft
        : deadline !== null ? (deadline - performance.now()) / 1000 : null;
      if (shown !== null && key === clockKey && left - shown >= 60) {
        // a proctor's extension: the server's time jumps up past our own countdown
        showWarning(t('time_added', {n: Math.round((left - shown) / 60)}), 'info');
      } else if (pushed && key !== clockKey && clockKey !== null &&
                 clockKey.indexOf('section:') === 0) {
        // pushed unasked into another section: the server ended the timed one
        showWarning(t('section_time_up'), 'info');
      }
      if (key !== clockKey && sectionClock) {
        // a section's own clock warns only at the marks it crosses (a
        // 10-minute section does not open with "10 minutes left")
        WARNINGS.forEach(function (w) { warned[w.key] = left <= w.at; });
      }
      // paused: the clock stands still at `left` until a state says resumed
      deadline = performance.now() + left * 1000;
      pausedLeft = next.paused ? left : null;
      clockKey = key;
    } else {
      deadline = null;
      clockKey = null;
    }
    if (sectionClock && typeof next.remaining_s === 'number') {
      examDeadline = performance.now() + next.remaining_s * 1000;
      examPausedLeft = next.paused ? next.remaining_s : null;
    } else {
      examDeadline = null;
    }
    el.countdownLabel.hidden = !sectionClock;
    el.examClockLabel.hidden = sectionClock;
    el.examClock.hidden = !sectionClock;
    el.countdown.setAttribute('aria-label', t(sectionClock ? 'section_time' : 'exam_time'));
    render();
    applyHelp(next);
    pump();
  }

  function missingItems(section) {
    for (var seq = section.first_seq; seq <= section.last_seq; seq++) {
      if (!items[seq]) return true;
    }
    return false;
  }

  // the answer on screen: the newest queued one, else the server's
  function answerOf(seq) {
    for (var i = queue.length - 1; i >= 0; i--) {
      if (queue[i].kind === 'answer' && queue[i].seq === seq) return queue[i].choice;
    }
    return serverAnswers[seq] || serverAnswers[String(seq)] || null;
  }

  function markedOf(seq) {
    for (var i = queue.length - 1; i >= 0; i--) {
      if (queue[i].kind === 'mark' && queue[i].seq === seq) return queue[i].marked;
    }
    return !!serverMarked[seq];
  }

  function finishQueued() {
    return queue.some(function (op) { return op.kind === 'finish'; });
  }

  function sectionCounts(section) {
    var unanswered = 0;
    var marked = 0;
    for (var seq = section.first_seq; seq <= section.last_seq; seq++) {
      if (!answerOf(seq)) unanswered += 1;
      if (markedOf(seq)) marked += 1;
    }
    return {unanswered: unanswered, marked: marked, count: section.last_seq - section.first_seq + 1};
  }

  // --- rendering -------------------------------------------------------------

  function showScreen(status) {
    el.screen.setAttribute('data-status', status);
    ['connecting', 'waiting', 'paused', 'in_progress', 'finished'].forEach(function (name) {
      byId('screen-' + name).hidden = name !== status;
    });
  }

  function render() {
    if (!state) return;
    var status = state.status;
    if (status !== 'waiting' && status !== 'in_progress' && status !== 'finished') return;
    var screenBefore = el.screen.getAttribute('data-status');
    showScreen(status === 'in_progress' && state.paused ? 'paused' : status);
    if (status === 'in_progress' && state.paused) {
      if (el.dialog.open) el.dialog.close();
    } else if (status === 'in_progress') {
      renderSections();
      if (isNavigable()) renderNavigable();
      else renderLinear();
      var idle = !document.activeElement || document.activeElement === document.body;
      if (screenBefore !== 'in_progress' && idle) el.itemNumber.focus(); // keys work at once
    } else {
      renderedKey = null;
      stripKey = null;
      if (el.dialog.open) el.dialog.close();
    }
    el.clocks.hidden = status !== 'in_progress';
    if (status === 'in_progress') {
      fitScrollPadding(); // the clocks may have just made the header taller
      updateMoreBelow();
    }
    if (status === 'finished') renderFinished();
    // a finished attempt's seat leaves the consoles' help lights: no button that promises a proctor
    // nor a banner saying one was called: after the end no proctor comes for it
    var help = document.getElementById('help-button');
    if (help) help.hidden = status === 'finished';
    if (status === 'finished') document.getElementById('help-banner').hidden = true;
    renderOffline();
    tick();
  }

  function renderSections() {
    var sections = state.sections || [];
    var section = state.section || {};
    el.section.textContent = section.name || '';
    el.sectionTabs.hidden = sections.length < 2;
    el.sectionTabs.textContent = '';
    sections.forEach(function (s, i) {
      var tab = make('li', 'section-tab ' + s.status);
      tab.setAttribute('data-testid', 'section-tab-' + s.code);
      tab.setAttribute('data-status', s.status);
      if (s.status === 'current') tab.setAttribute('aria-current', 'step');
      tab.appendChild(make('span', 'tab-number', i + 1));
      var label = make('span', 'tab-label');
      label.appendChild(make('span', 'tab-code', s.code));
      label.appendChild(make('span', 'tab-status', t('section_' + s.status)));
      tab.appendChild(label);
      tab.title = s.name + ' — ' + t('section_' + s.status);
      el.sectionTabs.appendChild(tab);
    });
    var adaptive = section.mode === 'adaptive';
    el.adaptiveNote.hidden = !adaptive;
    el.progressFill.style.width = (state.total ? (100 * state.answered / state.total) : 0) + '%';
  }

  function renderItemBody(seq, item) {
    var key = seq + ':' + item.id;
    if (key === renderedKey) return false;
    var hadFocus = el.options.contains(document.activeElement);
    renderedKey = key;
    // Stems and options are HTML (docs/formats.md): sanitised on import and again
    // by the server before they are sent (exam/catalog.py public_item), and the
    // page's Content-Security-Policy runs no inline script or handler either.
    el.stem.innerHTML = item.stem;
    renderMedia(item);
    el.options.textContent = '';
    item.options.forEach(function (option) {
      var button = make('button', 'option');
      button.type = 'button';
      button.setAttribute('role', 'radio');
      button.setAttribute('data-testid', 'option-' + option.label);
      button.setAttribute('data-choice', option.label);
      var label = make('span', 'option-label', option.label);
      label.setAttribute('aria-hidden', 'true');
      button.appendChild(label);
      var text = make('span', 'option-text');
      text.innerHTML = option.text;
      button.appendChild(text);
      // a screen reader hears "A. Pembukaan UUD 1945", not "APembukaan UUD 1945"
      button.setAttribute('aria-label', option.label + '. ' + text.textContent.replace(/\s+/g, ' ').trim());
      button.addEventListener('click', function () {
        choose(option.label);
      });
      el.options.appendChild(button);
    });
    window.scrollTo(0, 0);
    fitScrollPadding();
    updateMoreBelow();
    if (hadFocus) el.itemNumber.focus(); // the old option is gone; read the new item from its number
    return true;
  }

  // The item's image or audio, fetched by item id (the server checks it was presented).
  function renderMedia(item) {
    el.media.textContent = '';
    el.media.hidden = !item || !item.media;
    if (el.media.hidden) return;
    var url = config.media.replace(/0$/, String(item.id));
    var media;
    if (item.media === 'audio') {
      media = make('audio');
      media.controls = true;
      media.preload = 'auto';
      media.setAttribute('aria-label', t('media_audio'));
    } else {
      media = make('img');
      media.alt = t('media_image');
    }
    media.src = url;
    el.media.appendChild(media);
  }

  function renderLinear() {
    el.navigator.hidden = true;
    el.navActions.hidden = true;
    el.allAnswered.hidden = true;
    el.keysNav.hidden = true;
    el.linearActions.hidden = false;
    el.keysLinear.hidden = false;
    stripKey = null;
    var number = Math.min(state.answered + 1, state.total);
    // an adaptive section may stop early (SE reached): its total is a maximum, not a length
    var adaptive = state.section && state.section.mode === 'adaptive';
    el.progress.textContent = t(adaptive ? 'item_at_most' : 'item_of', {n: number, total: state.total});
    el.itemNumber.textContent = t('item_n', {n: number});
    if (!state.item) {
      // all of this section answered (a client of the simple protocol ends it)
      el.stem.textContent = '';
      renderMedia(null);
      el.options.textContent = '';
      renderedKey = null;
      return;
    }
    if (renderItemBody(state.seq, state.item)) {
      var queued = queuedAnswer(state.seq);
      selected = queued ? queued.choice : null;
    }
    renderBusy();
  }

  function queuedAnswer(seq) {
    for (var i = queue.length - 1; i >= 0; i--) {
      if (queue[i].kind === 'answer' && queue[i].seq === seq) return queue[i];
    }
    return null;
  }

  function renderNavigable() {
    var section = state.section;
    el.navigator.hidden = false;
    el.navActions.hidden = false;
    el.keysNav.hidden = false;
    el.linearActions.hidden = true;
    el.keysLinear.hidden = true;
    var counts = sectionCounts(section);
    var number = current - section.first_seq + 1;
    el.progress.textContent = t('item_of', {n: number, total: counts.count});
    el.itemNumber.textContent = t('item_n', {n: number});
    el.sectionAnswered.textContent = t('section_answered', {
      answered: counts.count - counts.unanswered, total: counts.count});
    renderStrip(section);
    var item = items[current];
    if (item) {
      renderItemBody(current, item);
    } else {
      el.stem.textContent = '…';
      renderMedia(null);
      el.options.textContent = '';
      renderedKey = null;
    }
    el.allAnswered.hidden = counts.unanswered > 0;
    renderBusy();
  }

  function renderStrip(section) {
    var key = itemsSection + ':' + section.first_seq + '-' + section.last_seq;
    if (key !== stripKey) {
      stripKey = key;
      el.strip.textContent = '';
      for (var seq = section.first_seq; seq <= section.last_seq; seq++) {
        var button = make('button', 'strip-item', seq - section.first_seq + 1);
        button.type = 'button';
        button.setAttribute('data-seq', String(seq));
        button.setAttribute('data-testid', 'strip-' + (seq - section.first_seq + 1));
        // the number opens its item and hands the focus to it: Enter then moves on
        // and A-E answer it (the button keeps neither)
        button.addEventListener('click', function (target) { goTo(target, true); }.bind(null, seq));
        el.strip.appendChild(button);
      }
    }
    var buttons = el.strip.children;
    for (var i = 0; i < buttons.length; i++) {
      var s = Number(buttons[i].getAttribute('data-seq'));
      var answered = !!answerOf(s);
      var marked = markedOf(s);
      var isCurrent = s === current;
      buttons[i].classList.toggle('answered', answered);
      buttons[i].classList.toggle('marked', marked);
      buttons[i].classList.toggle('current', isCurrent);
      buttons[i].setAttribute('data-state', (answered ? 'answered' : 'unanswered') + (marked ? ' marked' : ''));
      if (isCurrent) buttons[i].setAttribute('aria-current', 'true');
      else buttons[i].removeAttribute('aria-current');
      var words = [t('strip_item', {n: i + 1}), answered ? t('answered') : t('unanswered')];
      if (marked) words.push(t('marked'));
      if (isCurrent) words.push(t('shown_now'));
      buttons[i].setAttribute('aria-label', words.join(', '));
    }
  }

  function renderBusy() {
    if (!state || state.status !== 'in_progress') return;
    var buttons = el.options.querySelectorAll('.option');
    var navigable = isNavigable();
    var finishing = finishQueued();
    var chosen = navigable ? answerOf(current) : selected;
    var busy = navigable ? finishing : !!(state.item && queuedAnswer(state.seq));
    for (var i = 0; i < buttons.length; i++) {
      var on = buttons[i].getAttribute('data-choice') === chosen;
      buttons[i].classList.toggle('selected', on);
      buttons[i].setAttribute('aria-checked', on ? 'true' : 'false');
      buttons[i].disabled = busy;
    }
    var sending = queue.length > 0;
    if (navigable) {
      var section = state.section;
      el.prev.disabled = current <= section.first_seq;
      el.next.disabled = current >= section.last_seq;
      var marked = markedOf(current);
      el.mark.setAttribute('aria-pressed', marked ? 'true' : 'false');
      el.mark.classList.toggle('on', marked);
      el.mark.disabled = finishing;
      el.finishSection.disabled = finishing;
      // "saved" only for an item that has an answer: an untouched one says so
      el.navSaving.textContent = sending ? t('saving') : chosen ? t('saved') : t('not_answered');
      el.navSaving.classList.toggle('pending', sending);
      el.navSaving.classList.toggle('saved', !sending && !!chosen);
      el.navSaving.classList.toggle('unanswered', !sending && !chosen);
    } else {
      el.submit.disabled = busy || !selected || !state.item;
      el.saving.hidden = !busy;
    }
  }

  function renderOffline() {
    var answers = queue.filter(function (op) { return op.kind === 'answer'; }).length;
    el.offlineQueued.textContent = answers ? t('queued', {n: answers}) : '';
  }

  // --- actions -----------------------------------------------------------------

  function choose(choice) {
    if (!state || state.status !== 'in_progress' || state.paused) return;
    showOption(el.options.querySelector('[data-choice="' + choice + '"]'));
    if (isNavigable()) {
      var item = items[current];
      if (!item || finishQueued() || !hasOption(choice)) return;
      if (answerOf(current) === choice) return;
      hideMessage();
      enqueue({kind: 'answer', seq: current, item: item.id, choice: choice});
      return;
    }
    if (!state.item || queuedAnswer(state.seq)) return;
    selected = choice;
    renderBusy();
  }

  function hasOption(choice) {
    return !!el.options.querySelector('[data-choice="' + choice + '"]');
  }

  function submit() {
    if (!state || state.status !== 'in_progress' || isNavigable()) return;
    if (!selected || !state.item || queuedAnswer(state.seq)) return;
    hideMessage();
    enqueue({kind: 'answer', seq: state.seq, item: state.item.id, choice: selected});
  }

  // focusItem: the focus goes to the item (its number heading), so Enter moves on
  // and A-E answer it, whatever button was pressed to get here
  function goTo(seq, focusItem) {
    if (!isNavigable()) return;
    var section = state.section;
    if (seq < section.first_seq || seq > section.last_seq) return;
    current = seq;
    render();
    if (focusItem) el.itemNumber.focus();
  }

  function toggleMark() {
    if (!isNavigable() || finishQueued()) return;
    enqueue({kind: 'mark', seq: current, marked: !markedOf(current)});
  }

  function openFinishDialog() {
    if (!isNavigable() || finishQueued()) return;
    var section = state.section;
    var counts = sectionCounts(section);
    // the last section: finishing it ends the whole exam, and the dialog says so
    var last = typeof section.count === 'number' && section.index >= section.count;
    el.dialogTitle.textContent = t(last ? 'finish_exam_title' : 'finish_section_title');
    el.dialogLast.hidden = !last;
    el.dialogNote.hidden = last;
    el.dialogConfirm.textContent = t(last ? 'finish_exam_confirm' : 'finish_section_confirm');
    el.dialog.classList.toggle('last', last);
    renderReview(section);
    renderSummary(last ? counts : null);
    el.dialogSection.textContent = section.name;
    el.dialogUnanswered.textContent = String(counts.unanswered);
    el.dialogMarked.textContent = String(counts.marked);
    el.dialogUnanswered.parentNode.classList.toggle('attention', counts.unanswered > 0);
    el.dialogMarked.parentNode.classList.toggle('attention', counts.marked > 0);
    el.dialog.showModal();
    // the safe choice has the focus; the body shows from its title (zoomed in or
    // on the last section it may be taller than the screen and scroll, the buttons stay)
    el.dialogCancel.focus({preventScroll: true});
    el.dialog.querySelector('.dialog-body').scrollTop = 0;
  }

  // Before the exam ends: every section's answered, blank and marked items. A
  // closed section is said to be closed (its items cannot be opened again); the
  // numbers to open are this section's, in the lists below.
  function renderSummary(current) {
    var sections = state.sections || [];
    el.summary.hidden = !current || sections.length < 2;
    el.dialogCounts.hidden = !el.summary.hidden; // the table has this section's counts too
    if (el.summary.hidden) return;
    el.summaryRows.textContent = '';
    var total = {items: 0, answered: 0, marked: 0};
    sections.forEach(function (s) {
      var counts = s.status === 'current'
        ? {items: current.count, answered: current.count - current.unanswered, marked: current.marked}
        : closedCounts[s.code];
      var row = make('tr', s.status === 'current' ? 'current' : 'closed');
      row.setAttribute('data-testid', 'finish-summary-' + s.code);
      var name = make('th', null, s.code);
      name.scope = 'row';
      name.title = s.name;
      row.appendChild(name);
      if (counts) {
        row.appendChild(make('td', 'num', t('summary_answered', {answered: counts.answered, items: counts.items})));
        row.appendChild(make('td', 'num' + (counts.items > counts.answered ? ' attention' : ''),
          counts.items - counts.answered));
        row.appendChild(make('td', 'num', counts.marked));
        total.items += counts.items;
        total.answered += counts.answered;
        total.marked += counts.marked;
      } else {
        for (var i = 0; i < 3; i++) row.appendChild(make('td', 'num', '…'));
      }
      row.appendChild(make('td', 'summary-state', t(s.status === 'current' ? 'summary_current' : 'summary_closed')));
      el.summaryRows.appendChild(row);
    });
    el.summaryAnswered.textContent = t('summary_answered', {answered: total.answered, items: total.items});
    el.summaryBlank.textContent = String(total.items - total.answered);
    el.summaryMarked.textContent = String(total.marked);
  }

  // The unanswered and marked items as numbers: one press closes the dialog and opens it.
  function renderReview(section) {
    var lists = {unanswered: el.reviewUnanswered, marked: el.reviewMarked};
    Object.keys(lists).forEach(function (kind) {
      var list = lists[kind];
      list.textContent = '';
      for (var seq = section.first_seq; seq <= section.last_seq; seq++) {
        if (kind === 'unanswered' ? answerOf(seq) : !markedOf(seq)) continue;
        var n = seq - section.first_seq + 1;
        var button = make('button', 'review-item strip-item ' + (kind === 'marked' ? 'marked' : ''), n);
        button.type = 'button';
        button.setAttribute('data-testid', 'review-' + kind + '-' + n);
        button.setAttribute('aria-label', t('review_item', {n: n}) + ', ' + t(kind));
        button.addEventListener('click', function (target) {
          el.dialog.close();
          goTo(target, true);
        }.bind(null, seq));
        list.appendChild(button);
      }
      list.parentNode.hidden = !list.children.length;
    });
  }

  el.submit.addEventListener('click', submit);
  el.prev.addEventListener('click', function () { goTo(current - 1, true); });
  el.next.addEventListener('click', function () { goTo(current + 1, true); });
  el.mark.addEventListener('click', function () {
    toggleMark();
    el.itemNumber.focus();
  });
  el.finishSection.addEventListener('click', openFinishDialog);
  el.dialogCancel.addEventListener('click', function () { el.dialog.close(); });
  function confirmFinish() {
    el.dialog.close();
    if (!isNavigable()) return;
    enqueue({kind: 'finish', section: state.section.index});
  }

  el.dialogConfirm.addEventListener('click', confirmFinish);

  document.addEventListener('keydown', function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (blocked || el.dialog.open || !state || state.status !== 'in_progress' || state.paused) return;
    var navigable = isNavigable();
    var target = event.target;
    var onOtherButton = target && target.tagName === 'BUTTON' && !target.classList.contains('option');
    if (event.key === 'Enter') {
      if (onOtherButton) return; // Enter presses the focused button (strip number, finish, ...)
      event.preventDefault(); // a focused option must not also "click"
      if (navigable) goTo(current + 1);
      else submit();
      return;
    }
    if (navigable && (event.key === 'ArrowLeft' || event.key === 'ArrowRight')) {
      event.preventDefault();
      goTo(current + (event.key === 'ArrowLeft' ? -1 : 1));
      return;
    }
    var letter = event.key && event.key.length === 1 ? event.key.toUpperCase() : '';
    // A-E answer only the item the focus is in (or nothing focused): not while the
    // focus rests on a strip number, the finish button or the language switch
    if (LETTERS.indexOf(letter) >= 0 && hasOption(letter) && focusInItem(target)) {
      event.preventDefault();
      choose(letter);
      return;
    }
    if (navigable && letter === t('mark_key').toUpperCase()) {
      event.preventDefault();
      toggleMark();
      return;
    }
    if (navigable && letter === t('finish_key').toUpperCase()) {
      // the same confirm dialog as the button, its safe choice focused: one
      // stray key (or S then Enter) never ends a section
      event.preventDefault();
      openFinishDialog();
    }
  });

  function focusInItem(target) {
    return !target || target === document.body || target === document.documentElement ||
      el.itemMain.contains(target);
  }

  function renderFinished() {
    var result = state.result;
    var reasons = {time_up: 'finished_time_up', ended_by_proctor: 'finished_by_proctor'};
    el.finishReason.textContent = t(reasons[state.finish_reason] || 'finished_completed');
    // what was answered of what the attempt had: never "all answered" with blanks left
    var items = typeof state.n_items === 'number' ? state.n_items : state.total;
    var blank = Math.max(0, items - state.answered);
    el.finishCount.textContent = t('finished_count', {answered: state.answered, items: items}) +
      ' ' + (blank ? t('finished_blank', {n: blank}) : t('finished_all'));
    el.finishCount.classList.toggle('has-blank', blank > 0);
    el.result.hidden = !result;
    if (!result) return;
    // a verdict only where a pass mark exists (`passed` is true when there is none)
    var judged = result.pass_total !== null && result.pass_total !== undefined;
    (result.sections || []).forEach(function (section) {
      if (section.pass_mark !== null && section.pass_mark !== undefined) judged = true;
    });
    el.resultTable.classList.toggle('no-pass-marks', !judged);
    el.resultRows.textContent = '';
    (result.sections || []).forEach(function (section) {
      var row = document.createElement('tr');
      row.appendChild(make('td', null, section.name));
      row.appendChild(make('td', 'num', section.score));
      row.appendChild(make('td', 'num pm', dash(section.pass_mark)));
      var marked = section.pass_mark !== null && section.pass_mark !== undefined;
      row.appendChild(passedCell(marked ? section.passed : null, 'td', 'pm'));
      el.resultRows.appendChild(row);
    });
    el.resultTotal.textContent = dash(result.total);
    el.resultPassTotal.textContent = dash(result.pass_total);
    var overall = passedCell(judged ? result.passed : null, 'th', 'pm');
    overall.setAttribute('data-testid', 'result-passed');
    el.resultPassed.replaceWith(overall);
    overall.id = 'result-passed';
    el.resultPassed = overall;
  }

  function dash(value) {
    return value === null || value === undefined ? '—' : String(value);
  }

  function passedCell(passed, tag, extra) {
    var cell = make(tag, 'verdict ' + (extra || ''));
    if (passed === true || passed === false) {
      cell.classList.add(passed ? 'pass' : 'fail');
      cell.textContent = passed ? t('passed') : t('not_passed');
    } else {
      cell.textContent = '—';
    }
    return cell;
  }

  // --- zoom: every option can be brought out from under the sticky header and bar ---

  // the button bar under the item: Berikutnya & co. in a navigable section,
  // "Jawab & lanjut" in a linear or adaptive one; both stick to the screen's bottom
  function activeBar() {
    return el.navActions.hidden ? el.linearActions : el.navActions;
  }

  // scrolling (into view, to a focused option) stops clear of the sticky header
  // above and the sticky button bar below, whatever height zoom gives them
  function fitScrollPadding() {
    var root = document.documentElement.style;
    root.scrollPaddingTop = (el.topbar.offsetHeight + 8) + 'px';
    var bar = activeBar();
    var height = bar.hidden ? 0 : bar.offsetHeight;
    // and clear of the "more below" hint in the bar (its height whether shown
    // or not: showing it must not change where scrolling stops)
    var hint = el.moreBelow.hidden ? 2.6 * parseFloat(window.getComputedStyle(el.moreBelow).fontSize || '16') : 0;
    root.scrollPaddingBottom = (height ? height + hint + 16 : 8) + 'px';
  }

  // Brings an option between the header and the bar. scrollIntoView uses the
  // scroll padding; the check after it corrects a padding the layout has just
  // outgrown (a header that wrapped, a late image) and the browser's own focus
  // scrolling, whichever ran last.
  function showOption(option) {
    if (!option || !option.isConnected) return;
    fitScrollPadding();
    option.scrollIntoView({block: 'nearest'});
    var top = el.topbar.getBoundingClientRect().bottom + 4;
    var bottom = activeBar().getBoundingClientRect().top - 4;
    var box = option.getBoundingClientRect();
    if (box.top < top) window.scrollBy(0, box.top - top);
    else if (box.bottom > bottom) window.scrollBy(0, Math.min(box.bottom - bottom, box.top - top));
  }

  // "more options below": shown while the last option is under the bar or off screen
  function updateMoreBelow() {
    var options = el.options.querySelectorAll('.option');
    var last = options.length ? options[options.length - 1] : null;
    var bar = activeBar();
    if (el.moreBelow.parentNode !== bar) bar.appendChild(el.moreBelow); // first in the bar, above its buttons
    var hidden = false;
    if (last && !bar.hidden && state && state.status === 'in_progress') {
      var limit = Math.min(bar.getBoundingClientRect().top, window.innerHeight);
      hidden = last.getBoundingClientRect().bottom > limit + 1;
    }
    el.moreBelow.hidden = !hidden;
  }

  el.options.addEventListener('focusin', function (event) {
    var option = event.target.closest && event.target.closest('.option');
    if (!option) return;
    showOption(option);
    // and once more after the browser's own scrolling to the focused element
    window.requestAnimationFrame(function () {
      if (document.activeElement === option) showOption(option);
    });
  });
  window.addEventListener('scroll', updateMoreBelow, {passive: true});
  window.addEventListener('resize', function () {
    fitScrollPadding();
    updateMoreBelow();
  });
  // an image that loads late, a header that wraps anew (a clock, a banner's text):
  // the padding and the hint follow whatever changed the layout
  el.itemMain.addEventListener('load', updateMoreBelow, true);
  if (window.ResizeObserver) {
    var relayout = new ResizeObserver(function () {
      fitScrollPadding();
      updateMoreBelow();
    });
    relayout.observe(el.topbar);
    relayout.observe(el.itemMain);
  }
  el.moreBelow.addEventListener('click', function () {
    var options = el.options.querySelectorAll('.option');
    if (options.length) showOption(options[options.length - 1]);
  });

  // --- leaving the exam window: counted for the proctor (the server keeps the tally) ---

  // once per loss: blur and visibilitychange come as a pair, and a hidden page
  // may blur again; the next loss counts only after the page had focus back
  function focusLost() {
    if (focusGone || !state || state.status !== 'in_progress' || !socket.connected || blocked) return;
    focusGone = true;
    socket.emit('focus_lost');
  }

  function focusBack() {
    if (document.visibilityState !== 'hidden') focusGone = false;
  }

  window.addEventListener('blur', focusLost);
  window.addEventListener('focus', focusBack);
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'hidden') focusLost();
    else if (document.hasFocus()) focusBack();
  });

  // --- calling a proctor ("Minta bantuan", or Alt+B): the seat lights up on the consoles ---

  var helpButton = document.getElementById('help-button');
  var helpBanner = document.getElementById('help-banner');
  var helpStatus = document.getElementById('help-status');
  var HELP_QUIET_MS = 60000; // the button rests a minute after a call: one press, one light
  var HELP_ANSWERED_MS = 10000; // "a proctor has seen it" stays this long, then clears itself
  var helpTimer = null;

  function showHelp(key, quietMs) {
    helpStatus.textContent = t(key);
    helpBanner.classList.toggle('answered', key === 'help_answered');
    helpBanner.hidden = false;
    clearTimeout(helpTimer);
    helpTimer = setTimeout(function () {
      helpButton.disabled = false;
      hideHelp();
    }, quietMs);
  }

  function hideHelp() {
    var hadFocus = helpBanner.contains(document.activeElement);
    helpBanner.hidden = true;
    if (hadFocus && el.screen.getAttribute('data-status') === 'in_progress') el.itemNumber.focus();
  }

  byId('help-close').addEventListener('click', hideHelp);

  // This tab waits for a proctor: kept across a reload (sessionStorage, per tab), so an
  // answer that came while the page was away is said when the `state` of the next
  // connect carries it (docs/protocol.md, "Calling a proctor").
  var HELP_KEY = 'cat-exam-help-waiting:' + config.attempt;
  var helpWaiting = false; // the same, for a browser without sessionStorage
  var helpShown = false; // this page has shown the waiting call (a reload has not yet)

  function setHelpWaiting(on) {
    helpWaiting = on;
    try {
      if (on) window.sessionStorage.setItem(HELP_KEY, '1');
      else window.sessionStorage.removeItem(HELP_KEY);
    } catch (e) { /* none: the variable alone */ }
  }

  function isHelpWaiting() {
    try {
      if (window.sessionStorage.getItem(HELP_KEY)) return true;
    } catch (e) { /* none */ }
    return helpWaiting;
  }

  function helpAnswered() {
    setHelpWaiting(false);
    helpShown = false;
    helpButton.disabled = false;
    showHelp('help_answered', HELP_ANSWERED_MS);
  }

  // the connect's (or a sync's) `state` says the seat's last call: {called_at, answered_at}
  function applyHelp(next) {
    if (!('help' in next)) return; // only those states carry it
    var call = next.help;
    if (next.status === 'finished' || !call) {
      setHelpWaiting(false);
      return;
    }
    if (call.answered_at) {
      if (isHelpWaiting()) helpAnswered(); // answered while this page was away
      return;
    }
    setHelpWaiting(true);
    if (helpShown) return;
    // reloaded while the call waits: the banner and the resting button as they were,
    // for what is left of the call's quiet minute
    helpShown = true;
    var since = Date.parse(next.server_time) - Date.parse(call.called_at);
    var left = HELP_QUIET_MS - (isNaN(since) ? 0 : Math.max(0, since));
    if (left > 0) {
      helpButton.disabled = true;
      showHelp('help_sent', left);
    }
  }

  function callProctor() {
    if (helpButton.disabled) return;
    helpButton.disabled = true;
    socket.timeout(ACK_TIMEOUT_MS).emit('call_proctor', function (err, ack) {
      if (err || !ack || !ack.ok) {
        helpButton.disabled = false;
        showHelp('help_failed', HELP_QUIET_MS);
        return;
      }
      setHelpWaiting(true);
      helpShown = true;
      showHelp('help_sent', HELP_QUIET_MS);
    });
  }

  // a proctor acknowledged the call on the console: say so, and the button is back
  socket.on('help_answered', function (data) {
    if (!data || data.attempt !== config.attempt) return;
    helpAnswered();
  });

  helpButton.addEventListener('click', callProctor);
  document.addEventListener('keydown', function (event) {
    // Alt+B (Bantuan): the item keys are plain letters, so an Alt chord never answers
    if (event.altKey && !event.ctrlKey && !event.metaKey && (event.key === 'b' || event.key === 'B' || event.code === 'KeyB')) {
      event.preventDefault();
      callProctor();
    }
  });

  // --- countdown and time warnings ------------------------------------------------

  function formatTime(seconds) {
    var s = Math.max(0, Math.ceil(seconds));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var sec = s % 60;
    var mm = (m < 10 ? '0' : '') + m;
    var ss = (sec < 10 ? '0' : '') + sec;
    return h > 0 ? (h < 10 ? '0' : '') + h + ':' + mm + ':' + ss : mm + ':' + ss;
  }

  function tick() {
    if (!state || state.status !== 'in_progress' || deadline === null) {
      hideWarning();
      return;
    }
    var left = pausedLeft !== null ? pausedLeft : (deadline - performance.now()) / 1000;
    el.countdown.textContent = formatTime(left);
    el.pausedTime.textContent = formatTime(left);
    el.countdown.classList.toggle('low', Math.ceil(left) < LOW_TIME_S);
    if (examDeadline !== null) {
      var examLeft = examPausedLeft !== null ? examPausedLeft : (examDeadline - performance.now()) / 1000;
      el.examCountdown.textContent = formatTime(examLeft);
      el.examCountdown.classList.toggle('low', Math.ceil(examLeft) < LOW_TIME_S);
    }
    checkWarnings(left);
    if (left <= 0 && pausedLeft === null && socket.connected) {
      // the server finishes the attempt and sends `state`; ask if it has not arrived
      var now = performance.now();
      if (now - lastZeroSync > 3000) {
        lastZeroSync = now;
        requestSync();
      }
    }
  }

  // Each warning once as the time crosses it; a proctor's extension re-arms it.
  function checkWarnings(left) {
    var due = null;
    WARNINGS.forEach(function (w) {
      if (left > w.at + 30) warned[w.key] = false;
      else if (left <= w.at && left > 0 && !warned[w.key]) {
        warned[w.key] = true;
        due = w; // the later (smaller) threshold wins when both are due at once
      }
    });
    if (due) showWarning(t(due.key), 'warn');
  }

  function showWarning(text, kind) {
    el.timeWarningText.textContent = text;
    el.timeWarning.classList.toggle('info', kind === 'info');
    el.timeWarning.hidden = false;
    clearTimeout(warningTimer);
    warningTimer = setTimeout(hideWarning, WARNING_SHOWN_MS);
  }

  function hideWarning() {
    if (!el.timeWarning.hidden) el.timeWarning.hidden = true;
  }

  byId('time-warning-close').addEventListener('click', hideWarning);

  setInterval(tick, 250);

  setInterval(function () {
    if (socket.connected && state && state.status !== 'finished' && !inFlight) requestSync();
  }, SYNC_EVERY_MS);

  // --- messages and connection -------------------------------------------------

  function setOnline(online) {
    el.offline.hidden = online;
    el.connDot.classList.toggle('online', online);
    el.connDot.classList.toggle('offline', !online);
    el.connDot.title = online ? t('online') : t('offline');
    renderOffline();
  }

  function showMessage(text, kind) {
    el.message.textContent = '';
    el.message.className = 'banner ' + (kind || 'error');
    el.message.appendChild(make('strong', null, text));
    el.message.hidden = false;
  }

  function hideMessage() {
    el.message.hidden = true;
  }
})();
