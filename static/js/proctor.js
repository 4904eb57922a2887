// The proctor's live seat grid. On every (re)connect it watches the sitting
// and renders the full snapshot from the ack, then merges the coalesced
// `seats` messages. Protocol: docs/protocol.md, namespace /proctor.
(function () {
  'use strict';

  var config = JSON.parse(document.getElementById('proctor-config').textContent);
  var ACK_TIMEOUT_MS = 10000;
  var DENSE_FROM = 100; // seats; above this the tiles drop name and number lines
  var STATUSES = ['absent', 'waiting', 'answering', 'disconnected', 'finished'];
  var STATUS_WORDS = {
    absent: 'Tidak hadir',
    waiting: 'Menunggu',
    answering: 'Mengerjakan',
    disconnected: 'Terputus',
    finished: 'Selesai'
  };
  var SITTING_WORDS = {
    open: 'Dibuka — belum dimulai / Open — not started',
    started: 'Berjalan / Started',
    ended: 'Selesai / Ended'
  };

  var el = {
    name: document.getElementById('sitting-name'),
    status: document.getElementById('sitting-status'),
    start: document.getElementById('start-button'),
    message: document.getElementById('proctor-message'),
    grid: document.getElementById('seat-grid'),
    conn: document.getElementById('conn-indicator')
  };

  var tiles = {}; // candidate id -> {node, parts, deadline}
  var sitting = null;

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // --- socket ----------------------------------------------------------------

  var socket = io('/proctor');

  socket.on('connect', function () {
    setConnection(true);
    watch();
  });

  socket.on('disconnect', function (reason) {
    setConnection(false);
    if (reason === 'io server disconnect') {
      setTimeout(function () { socket.connect(); }, 2000);
    }
  });

  socket.on('connect_error', function (err) {
    setConnection(false);
    if (!socket.active) {
      showMessage({
        message: 'Sesi login petugas berakhir. Muat ulang halaman dan masuk lagi.',
        message_en: 'Your staff login has ended. Reload the page and log in again.'
      });
    }
  });

  socket.on('seats', function (payload) {
    if (payload && payload.sitting && payload.sitting.id === config.sitting) apply(payload);
  });

  function watch() {
    socket.timeout(ACK_TIMEOUT_MS).emit('watch', {sitting: config.sitting}, function (err, ack) {
      if (err) {
        if (socket.connected) setTimeout(watch, 2000);
        return;
      }
      if (!ack || !ack.ok) {
        showMessage(ack || {});
        return;
      }
      hideMessage();
      apply(ack);
    });
  }

  el.start.addEventListener('click', function () {
    var question = 'Mulai ujian sekarang untuk semua peserta yang menunggu?\n' +
      'Start the exam now for every waiting candidate?';
    if (!window.confirm(question)) return;
    el.start.disabled = true;
    socket.timeout(ACK_TIMEOUT_MS).emit('start_sitting', {sitting: config.sitting}, function (err, ack) {
      el.start.disabled = false;
      if (err) {
        showMessage({message: 'Server tidak menjawab. Coba lagi.', message_en: 'No answer from the server. Try again.'});
      } else if (!ack || !ack.ok) {
        showMessage(ack || {});
      } else {
        hideMessage();
      }
    });
  });

  // --- rendering -------------------------------------------------------------

  function apply(payload) {
    if (payload.sitting) renderSitting(payload.sitting);
    if (payload.counts) renderCounts(payload.counts);
    var seats = payload.seats || [];
    if (payload.full) {
      tiles = {};
      el.grid.textContent = '';
      var fragment = document.createDocumentFragment();
      seats.forEach(function (seat) {
        fragment.appendChild(upsert(seat).node);
      });
      el.grid.appendChild(fragment);
      el.grid.classList.toggle('dense', seats.length > DENSE_FROM);
    } else {
      seats.forEach(function (seat) {
        var isNew = !tiles[seat.candidate];
        var tile = upsert(seat);
        if (isNew) el.grid.appendChild(tile.node);
      });
    }
    tick();
  }

  function renderSitting(data) {
    sitting = data;
    el.name.textContent = data.name;
    el.status.textContent = SITTING_WORDS[data.status] || data.status;
    el.status.setAttribute('data-status', data.status);
    el.status.className = 'badge sitting-' + data.status;
    el.start.hidden = data.status !== 'open';
  }

  function renderCounts(counts) {
    STATUSES.forEach(function (status) {
      var node = document.getElementById('count-' + status);
      if (node) node.textContent = String(counts[status] || 0);
    });
  }

  function upsert(seat) {
    var tile = tiles[seat.candidate];
    if (!tile) {
      var node = make('div', 'seat');
      var parts = {
        label: make('span', 'seat-label'),
        word: make('span', 'seat-word'),
        name: make('span', 'seat-name'),
        reg: make('span', 'seat-reg'),
        bar: make('span', 'seat-bar'),
        fill: make('span', 'seat-fill'),
        answered: make('span', 'seat-answered'),
        time: make('span', 'seat-time')
      };
      var top = make('span', 'seat-top');
      top.appendChild(parts.label);
      top.appendChild(parts.word);
      var bottom = make('span', 'seat-bottom');
      bottom.appendChild(parts.answered);
      bottom.appendChild(parts.time);
      parts.bar.appendChild(parts.fill);
      node.appendChild(top);
      node.appendChild(parts.name);
      node.appendChild(parts.reg);
      node.appendChild(parts.bar);
      node.appendChild(bottom);
      tile = tiles[seat.candidate] = {node: node, parts: parts, deadline: null, status: null};
    }
    var p = tile.parts;
    var label = seat.seat || seat.registration_no;
    var status = STATUSES.indexOf(seat.status) >= 0 ? seat.status : 'absent';
    tile.status = status;
    tile.node.className = 'seat st-' + status;
    tile.node.setAttribute('data-testid', 'seat-' + label);
    tile.node.setAttribute('data-status', status);
    tile.node.title = label + ' — ' + seat.name + ' (' + seat.registration_no + ') — ' + STATUS_WORDS[status];
    p.label.textContent = label;
    p.word.textContent = STATUS_WORDS[status];
    p.name.textContent = seat.name;
    p.reg.textContent = seat.registration_no;
    var total = seat.total || 0;
    p.answered.textContent = total ? seat.answered + '/' + total : '–';
    p.fill.style.width = (total ? Math.min(100, 100 * seat.answered / total) : 0) + '%';
    tile.deadline = typeof seat.remaining_s === 'number'
      ? performance.now() + seat.remaining_s * 1000
      : null;
    if (tile.deadline === null) p.time.textContent = '';
    return tile;
  }

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
    var now = performance.now();
    Object.keys(tiles).forEach(function (id) {
      var tile = tiles[id];
      if (tile.deadline === null) return;
      var left = (tile.deadline - now) / 1000;
      var text = formatTime(left);
      if (tile.parts.time.textContent !== text) tile.parts.time.textContent = text;
      tile.parts.time.classList.toggle('low', Math.ceil(left) < 300);
    });
  }

  setInterval(tick, 1000);

  // --- messages and connection -------------------------------------------------

  function setConnection(online) {
    el.conn.textContent = online ? 'Tersambung / Connected' : 'Terputus — menyambung ulang… / Disconnected — reconnecting…';
    el.conn.className = 'conn-indicator ' + (online ? 'online' : 'offline');
    document.body.classList.toggle('stale', !online);
  }

  function showMessage(ack) {
    el.message.textContent = '';
    el.message.appendChild(make('strong', null, ack.message || 'Terjadi kesalahan.'));
    if (ack.message_en) el.message.appendChild(make('span', 'en', ack.message_en));
    el.message.hidden = false;
  }

  function hideMessage() {
    el.message.hidden = true;
  }
})();
