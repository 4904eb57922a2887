// The candidate's exam page: renders each server `state`, sends one answer at a
// time, and keeps an unacknowledged answer (memory + localStorage) until the
// server confirms it was committed. Protocol: docs/protocol.md.
(function () {
  'use strict';

  var config = JSON.parse(document.getElementById('exam-config').textContent);
  var STORE_KEY = 'cat-exam-pending-' + config.attempt;
  var ACK_TIMEOUT_MS = 10000;
  var RETRY_MS = 2000;
  var SYNC_EVERY_MS = 60000;
  var LOW_TIME_S = 5 * 60;
  var LETTERS = ['A', 'B', 'C', 'D', 'E'];

  var el = {
    screen: byId('screen'),
    offline: byId('offline-banner'),
    message: byId('message'),
    connDot: byId('conn-dot'),
    section: byId('section-name'),
    progress: byId('progress'),
    progressFill: byId('progress-fill'),
    countdown: byId('countdown'),
    stem: byId('item-stem'),
    options: byId('options'),
    submit: byId('submit-answer'),
    saving: byId('saving'),
    finishReason: byId('finish-reason'),
    result: byId('result'),
    resultRows: byId('result-rows'),
    resultTotal: byId('result-total'),
    resultPassTotal: byId('result-pass-total'),
    resultPassed: byId('result-passed')
  };

  var state = null; // the latest full state from the server
  var renderedKey = null; // "seq:item" of the item on screen
  var selected = null; // the option chosen but not yet sent
  var pending = loadPending(); // {attempt, seq, item, choice} sent or to send, not yet acked
  var sendToken = 0; // bumps on every send and disconnect: stale acks are ignored
  var inFlight = false;
  var retryTimer = null;
  var deadline = null; // performance.now() at which the remaining time reaches zero
  var lastZeroSync = 0;

  function byId(id) {
    return document.getElementById(id);
  }

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // --- pending answer: survives a lost connection and a page reload ----------

  function loadPending() {
    try {
      var raw = window.localStorage.getItem(STORE_KEY);
      var value = raw ? JSON.parse(raw) : null;
      return value && value.attempt === config.attempt ? value : null;
    } catch (e) {
      return null;
    }
  }

  function setPending(value) {
    pending = value;
    try {
      if (value) window.localStorage.setItem(STORE_KEY, JSON.stringify(value));
      else window.localStorage.removeItem(STORE_KEY);
    } catch (e) {
      // storage full or disabled: the in-memory copy still covers a dropped socket
    }
  }

  // --- socket ----------------------------------------------------------------

  var socket = io('/exam');

  socket.on('connect', function () {
    setOnline(true);
    // the server sends `state` on connect; a pending answer is re-sent from there
  });

  socket.on('disconnect', function (reason) {
    setOnline(false);
    if (reason === 'io server disconnect') {
      // the client does not reconnect by itself after a server-side disconnect
      setTimeout(function () { socket.connect(); }, RETRY_MS);
    }
    sendToken += 1; // an ack for a send before the drop will not come; resend after `state`
    inFlight = false;
    renderBusy();
  });

  socket.on('connect_error', function (err) {
    if (!socket.active) {
      // refused by the server (no candidate login): back to the login page
      window.location.assign(config.login);
      return;
    }
    setOnline(false);
  });

  socket.on('state', function (next) {
    applyState(next);
  });

  socket.on('exam_error', function () {
    // the same object arrives as the failed acknowledgement, handled there
  });

  function sendPending() {
    if (!pending || inFlight || !socket.connected) return;
    clearTimeout(retryTimer);
    var token = ++sendToken;
    var payload = {attempt: pending.attempt, seq: pending.seq, item: pending.item, choice: pending.choice};
    inFlight = true;
    renderBusy();
    socket.timeout(ACK_TIMEOUT_MS).emit('answer', payload, function (err, ack) {
      if (token !== sendToken) return;
      inFlight = false;
      if (err) {
        // no acknowledgement in time: the same seq again; the server never stores it twice
        renderBusy();
        if (socket.connected) retryTimer = setTimeout(sendPending, RETRY_MS);
        return;
      }
      handleAck(ack);
    });
  }

  function handleAck(ack) {
    if (!ack || typeof ack !== 'object') {
      retryTimer = setTimeout(sendPending, RETRY_MS);
      return;
    }
    if (ack.ok) {
      setPending(null);
      hideMessage();
      if (ack.state) applyState(ack.state);
      else renderBusy();
      return;
    }
    switch (ack.error) {
      case 'retry':
        showMessage(ack, 'warn');
        renderBusy();
        retryTimer = setTimeout(sendPending, RETRY_MS);
        return;
      case 'not_found':
        setPending(null);
        window.location.assign(config.login);
        return;
      case 'time_up':
        setPending(null);
        showMessage(ack, 'error');
        break;
      default:
        // wrong_seq, not_in_progress, invalid_choice, bad_payload: this answer is void
        setPending(null);
        showMessage(ack, 'error');
    }
    if (ack.state) applyState(ack.state);
    else if (socket.connected) requestSync();
    else renderBusy();
  }

  function requestSync() {
    socket.timeout(ACK_TIMEOUT_MS).emit('sync', function (err, ack) {
      if (!err && ack && ack.ok && ack.state) applyState(ack.state);
    });
  }

  // --- state -----------------------------------------------------------------

  function applyState(next) {
    if (!next || next.attempt !== config.attempt) return;
    state = next;
    if (pending) {
      var same = next.status === 'in_progress' && next.seq === pending.seq &&
        next.item && next.item.id === pending.item;
      if (!same) {
        // the answer was stored (the seq moved on) or the attempt ended: nothing to resend
        setPending(null);
      }
    }
    if (typeof next.remaining_s === 'number') {
      deadline = performance.now() + next.remaining_s * 1000;
    } else {
      deadline = null;
    }
    render();
    if (pending && !inFlight) sendPending();
  }

  function showScreen(status) {
    el.screen.setAttribute('data-status', status);
    ['connecting', 'waiting', 'in_progress', 'finished'].forEach(function (name) {
      byId('screen-' + name).hidden = name !== status;
    });
  }

  function render() {
    var status = state.status;
    if (status !== 'waiting' && status !== 'in_progress' && status !== 'finished') return;
    showScreen(status);
    if (status === 'in_progress') renderItem();
    else renderedKey = null;
    if (status === 'finished') renderFinished();
    tick();
  }

  function renderItem() {
    var item = state.item;
    var key = state.seq + ':' + item.id;
    var number = Math.min(state.answered + 1, state.total);
    el.section.textContent = state.section ? state.section.name : '';
    el.progress.textContent = 'Soal ' + number + ' dari ' + state.total;
    el.progress.setAttribute('title', 'Item ' + number + ' of ' + state.total);
    el.progressFill.style.width = (state.total ? (100 * state.answered / state.total) : 0) + '%';
    if (key !== renderedKey) {
      renderedKey = key;
      selected = pending && pending.seq === state.seq ? pending.choice : null;
      el.stem.textContent = item.stem;
      el.options.textContent = '';
      item.options.forEach(function (option) {
        var button = make('button', 'option');
        button.type = 'button';
        button.setAttribute('role', 'radio');
        button.setAttribute('data-testid', 'option-' + option.label);
        button.setAttribute('data-choice', option.label);
        button.appendChild(make('span', 'option-label', option.label));
        button.appendChild(make('span', 'option-text', option.text));
        button.addEventListener('click', function () {
          choose(option.label);
        });
        el.options.appendChild(button);
      });
      window.scrollTo(0, 0);
    }
    renderBusy();
  }

  function renderBusy() {
    if (!state || state.status !== 'in_progress') return;
    var busy = !!pending;
    var buttons = el.options.querySelectorAll('.option');
    for (var i = 0; i < buttons.length; i++) {
      var choice = buttons[i].getAttribute('data-choice');
      var on = choice === selected;
      buttons[i].classList.toggle('selected', on);
      buttons[i].setAttribute('aria-checked', on ? 'true' : 'false');
      buttons[i].disabled = busy;
    }
    el.submit.disabled = busy || !selected;
    el.saving.hidden = !busy;
  }

  function choose(choice) {
    if (pending || !state || state.status !== 'in_progress') return;
    selected = choice;
    renderBusy();
  }

  function submit() {
    if (pending || !selected || !state || state.status !== 'in_progress') return;
    hideMessage();
    setPending({attempt: config.attempt, seq: state.seq, item: state.item.id, choice: selected});
    renderBusy();
    sendPending(); // offline: waits for the `state` after reconnecting
  }

  el.submit.addEventListener('click', submit);

  document.addEventListener('keydown', function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (!state || state.status !== 'in_progress') return;
    if (event.key === 'Enter') {
      event.preventDefault(); // a focused option button must not also "click"
      submit();
      return;
    }
    var letter = event.key && event.key.length === 1 ? event.key.toUpperCase() : '';
    if (LETTERS.indexOf(letter) >= 0 && el.options.querySelector('[data-choice="' + letter + '"]')) {
      event.preventDefault();
      choose(letter);
    }
  });

  function renderFinished() {
    var result = state.result;
    var timeUp = state.finish_reason === 'time_up';
    el.finishReason.textContent = timeUp
      ? 'Waktu ujian telah habis. / Time is up.'
      : 'Semua soal telah dijawab. / All items have been answered.';
    el.result.hidden = !result;
    if (!result) return;
    el.resultRows.textContent = '';
    (result.sections || []).forEach(function (section) {
      var row = document.createElement('tr');
      row.appendChild(make('td', null, section.name));
      row.appendChild(make('td', 'num', section.score));
      row.appendChild(make('td', 'num', section.pass_mark === null || section.pass_mark === undefined ? '—' : section.pass_mark));
      row.appendChild(passedCell(section.passed, 'td'));
      el.resultRows.appendChild(row);
    });
    el.resultTotal.textContent = result.total === null || result.total === undefined ? '—' : String(result.total);
    el.resultPassTotal.textContent = result.pass_total === null || result.pass_total === undefined ? '—' : String(result.pass_total);
    var overall = passedCell(result.passed, 'th');
    el.resultPassed.replaceWith(overall);
    overall.id = 'result-passed';
    el.resultPassed = overall;
  }

  function passedCell(passed, tag) {
    var cell = make(tag, 'verdict');
    if (passed === true || passed === false) {
      cell.classList.add(passed ? 'pass' : 'fail');
      cell.appendChild(make('span', null, passed ? 'LULUS' : 'TIDAK LULUS'));
      cell.appendChild(make('span', 'en', passed ? ' / passed' : ' / not passed'));
    } else {
      cell.textContent = '—';
    }
    return cell;
  }

  // --- countdown ---------------------------------------------------------------

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
    if (!state || state.status !== 'in_progress' || deadline === null) return;
    var left = (deadline - performance.now()) / 1000;
    el.countdown.textContent = formatTime(left);
    el.countdown.classList.toggle('low', Math.ceil(left) < LOW_TIME_S);
    if (left <= 0 && socket.connected) {
      // the server finishes the attempt and sends `state`; ask if it has not arrived
      var now = performance.now();
      if (now - lastZeroSync > 3000) {
        lastZeroSync = now;
        requestSync();
      }
    }
  }

  setInterval(tick, 250);

  setInterval(function () {
    if (socket.connected && state && state.status !== 'finished' && !inFlight) requestSync();
  }, SYNC_EVERY_MS);

  // --- messages and connection -------------------------------------------------

  function setOnline(online) {
    el.offline.hidden = online;
    el.connDot.classList.toggle('online', online);
    el.connDot.classList.toggle('offline', !online);
  }

  function showMessage(ack, kind) {
    el.message.textContent = '';
    el.message.className = 'banner ' + (kind || 'error');
    el.message.appendChild(make('strong', null, ack.message || 'Terjadi kesalahan.'));
    if (ack.message_en) el.message.appendChild(make('span', 'en', ack.message_en));
    el.message.hidden = false;
  }

  function hideMessage() {
    el.message.hidden = true;
  }
})();
