// The proctor's live console. On every (re)connect it watches the sitting and
// renders the full snapshot from the ack, then merges the coalesced `seats`
// messages. A tile (or list row) click selects the seat for the action panel;
// every action asks for a reason first. Protocol: docs/protocol.md, /proctor.
(function () {
  'use strict';

  var config = JSON.parse(document.getElementById('proctor-config').textContent);
  var ACK_TIMEOUT_MS = 10000;
  var DENSE_FROM = 100; // seats; above this the tiles drop name and number lines
  var STATUSES = ['absent', 'waiting', 'answering', 'paused', 'disconnected', 'finished'];
  var STATUS_ORDER = {disconnected: 0, paused: 1, answering: 2, waiting: 3, absent: 4, finished: 5};
  // every word comes translated from the page (Flask-Babel: Indonesian first, English)
  var T = JSON.parse(document.getElementById('proctor-strings').textContent);
  var STATUS_WORDS = T.status;
  var SITTING_WORDS = T.sitting;
  // each flag is an icon of the page's SVG sprite (#icon-<flag>), never a font glyph
  var FLAG_ICONS = ['help', 'disconnected', 'idle', 'fast', 'many_moves', 'focus_lost', 'person_fit', 'locked_out'];
  // flags about the live seat: a finished attempt drops them (the server drops its own)
  var LIVE_ONLY = ['help', 'disconnected', 'idle', 'fast', 'locked_out'];
  var FLAG_WORDS = T.flags;
  var FAST_MIN_ANSWERS = 5;
  var FAST_RATIO = 1 / 3; // seconds per answer below a third of the sitting's median

  var ACTIONS = {
    open_check_in: {title: T.actions.open_check_in},
    pause_seat: {title: T.actions.pause_seat, seat: true},
    resume_seat: {title: T.actions.resume_seat, seat: true},
    extend_seat: {title: T.actions.extend_seat, seat: true, minutes: true},
    end_attempt: {title: T.actions.end_attempt, seat: true, danger: true},
    move_seat: {title: T.actions.move_seat, seat: true, newSeat: true},
    reset_pin: {title: T.actions.reset_pin, seat: true},
    lift_lockout: {title: T.actions.lift_lockout, seat: true},
    end_session: {title: T.actions.end_session, seat: true},
    note_incident: {title: T.actions.note_incident, category: true, text: true},
    pause_sitting: {title: T.actions.pause_sitting},
    resume_sitting: {title: T.actions.resume_sitting},
    extend_sitting: {title: T.actions.extend_sitting, minutes: true},
    end_sitting: {title: T.actions.end_sitting, danger: true, counts: true},
    start_sitting: {title: T.actions.start_sitting, counts: true, optional: true},
    acknowledge: {title: T.actions.acknowledge, optional: true, flag: true}
  };

  function $(id) { return document.getElementById(id); }

  var el = {
    name: $('sitting-name'),
    status: $('sitting-status'),
    start: $('start-button'),
    checkIn: $('check-in-button'),
    sittingActions: $('sitting-actions'),
    sittingMenu: $('sitting-menu-button'),
    message: $('proctor-message'),
    notice: $('proctor-notice'),
    grid: $('seat-grid'),
    list: $('seat-list'),
    listBody: $('seat-list-body'),
    conn: $('conn-indicator'),
    updated: $('last-update'),
    sortLabel: $('sort-label'),
    roomMode: $('view-room'),
    filter: $('filter'),
    sort: $('sort'),
    viewGrid: $('view-grid'),
    viewList: $('view-list'),
    panel: $('seat-panel'),
    pin: $('panel-pin'),
    dialog: $('action-dialog'),
    form: $('action-form'),
    actionError: $('action-error')
  };

  var tiles = {}; // candidate id -> {node, parts, seat, at, running, flags}
  var order = []; // candidate ids in seat order
  var sitting = null;
  var clockOffset = 0; // server time - local time, ms
  var selected = null; // candidate id
  var view = 'grid';
  var pending = null; // {action, candidate}

  // a flag's icon with its words as label and tooltip (an unknown flag: '!')
  function flagIcon(flag, acked) {
    var label = (FLAG_WORDS[flag] || flag) + (acked ? ' — ' + T.acked_short : '');
    if (FLAG_ICONS.indexOf(flag) < 0) {
      var mark = make('span', 'flag', '!');
      mark.title = label;
      return mark;
    }
    var svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('class', 'icon icon-' + flag + (acked ? ' acked' : ''));
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
    var title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
    title.textContent = label;
    var use = document.createElementNS('http://www.w3.org/2000/svg', 'use');
    use.setAttribute('href', '#icon-' + flag);
    svg.appendChild(title);
    svg.appendChild(use);
    return svg;
  }

  // a late login's clock, labelled with how late
  function lateMark(label) {
    var svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('class', 'icon icon-late late-mark');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
    var title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
    title.textContent = label;
    var use = document.createElementNS('http://www.w3.org/2000/svg', 'use');
    use.setAttribute('href', '#icon-late');
    svg.appendChild(title);
    svg.appendChild(use);
    return svg;
  }

  // 95 s: "1 mnt 35 dtk"? No: late by whole minutes ("12 mnt"), seconds only under one
  function lateText(seconds) {
    var s = Math.max(0, Math.round(seconds || 0));
    return s < 60 ? T.late.s.replace('%(n)s', s) : T.late.min.replace('%(n)s', Math.round(s / 60));
  }

  // "mulai 09:12 WIB · terlambat 12 mnt · mendapat 18 mnt (sisa waktu sesi)"
  function latePanelText(late) {
    var got = lateText(late.granted_s) + ' (' + (late.mode === 'remaining' ? T.late.remaining : T.late.full) + ')';
    return T.late.panel.replace('%(time)s', clockText(Date.parse(late.started_at), true))
      .replace('%(late)s', lateText(late.late_s)).replace('%(got)s', got);
  }

  // the status as a shape (room mode): hourglass, play, pause, warning, tick, dashed ring
  function statusShape() {
    var svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('class', 'icon seat-shape');
    svg.setAttribute('aria-hidden', 'true');
    svg.appendChild(document.createElementNS('http://www.w3.org/2000/svg', 'use'));
    return svg;
  }

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
    if (err && err.message === 'retry') {
      // the server's database was busy or down: it asked us to connect again
      setTimeout(function () { socket.connect(); }, 2000);
      return;
    }
    if (!socket.active) {
      showMessage({
        message: T.login_ended
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

  function send(event, payload, done) {
    socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, function (err, ack) {
      if (err) ack = {ok: false, message: T.no_answer};
      done(ack || {ok: false});
    });
  }

  // "Mulai ujian" asks in the page's own dialog (not the browser's), saying how many start
  el.start.addEventListener('click', function () { openAction('start_sitting', null); });

  // --- rendering -------------------------------------------------------------

  var lastCounts = null;
  var lastUpdate = null; // server time of the last snapshot or update

  function apply(payload) {
    if (payload.server_time) {
      clockOffset = Date.parse(payload.server_time) - Date.now();
      lastUpdate = Date.parse(payload.server_time);
      el.updated.textContent = T.updated_at.replace('%(time)s', clockText(lastUpdate));
    }
    if (payload.sitting) renderSitting(payload.sitting);
    if (payload.counts) renderCounts(payload.counts);
    var seats = payload.seats || [];
    if (payload.full) {
      tiles = {};
      order = [];
      el.grid.textContent = '';
      var fragment = document.createDocumentFragment();
      seats.forEach(function (seat) {
        order.push(seat.candidate);
        fragment.appendChild(upsert(seat).node);
      });
      el.grid.appendChild(fragment);
      el.grid.classList.toggle('dense', seats.length > DENSE_FROM);
      showCommonPrefix(seats);
      fitRoom();
    } else {
      seats.forEach(function (seat) {
        var isNew = !tiles[seat.candidate];
        var tile = upsert(seat);
        if (isNew) {
          order.push(seat.candidate);
          el.grid.appendChild(tile.node);
        }
      });
    }
    refresh();
  }

  // a dense grid drops the prefix every seat shares ("PC-"): "0061" in full beats "PC-00…";
  // the legend says the prefix
  function showCommonPrefix(seats) {
    var prefix = null;
    seats.forEach(function (seat) {
      var own = /^[^0-9]*/.exec(seat.seat || '')[0];
      prefix = prefix === null ? own : prefix === own ? prefix : '';
    });
    var shared = el.grid.classList.contains('dense') && prefix ? prefix : '';
    el.grid.classList.toggle('common-prefix', !!shared);
    $('legend-prefix').hidden = !shared;
    $('legend-prefix').textContent = shared ? T.seat_prefix.replace('%(prefix)s', shared) : '';
  }

  function renderSitting(data) {
    sitting = data;
    var shown = data.status === 'started' && data.paused ? 'paused' : data.status;
    el.name.textContent = data.name;
    el.status.textContent = SITTING_WORDS[shown] || shown;
    el.status.setAttribute('data-status', shown);
    el.status.className = 'badge sitting-' + shown;
    el.start.hidden = data.status !== 'open';
    el.checkIn.hidden = data.status !== 'scheduled';
    el.sittingActions.hidden = data.status === 'ended' || data.status === 'scheduled';
    el.sittingMenu.hidden = el.sittingActions.hidden;
    var running = data.status === 'started';
    el.sittingActions.querySelector('[data-action=pause_sitting]').hidden = !running || data.paused;
    el.sittingActions.querySelector('[data-action=resume_sitting]').hidden = !running || !data.paused;
    el.sittingActions.querySelector('[data-action=extend_sitting]').hidden = !running;
  }

  function renderCounts(counts) {
    lastCounts = counts;
    STATUSES.forEach(function (status) {
      var node = $('count-' + status);
      if (node) node.textContent = String(counts[status] || 0);
    });
  }

  function upsert(seat) {
    var tile = tiles[seat.candidate];
    if (!tile) {
      var node = make('div', 'seat');
      node.tabIndex = 0;
      node.setAttribute('role', 'button');
      var parts = {
        label: make('span', 'seat-label'),
        word: make('span', 'seat-word'),
        name: make('span', 'seat-name'),
        reg: make('span', 'seat-reg'),
        bar: make('span', 'seat-bar'),
        fill: make('span', 'seat-fill'),
        answered: make('span', 'seat-answered'),
        time: make('span', 'seat-time'),
        section: make('span', 'seat-section'),
        clock: make('span', 'seat-clock'),
        examTime: make('span', 'seat-exam-time'),
        flags: make('span', 'seat-flags'),
        shape: statusShape()
      };
      parts.time.appendChild(parts.section);
      parts.time.appendChild(parts.clock);
      var top = make('span', 'seat-top');
      top.appendChild(parts.label);
      top.appendChild(parts.word);
      top.appendChild(parts.shape);
      // in the top line's flow: a long status word (English) gives way, never lies under the icons
      top.appendChild(parts.flags);
      var bottom = make('span', 'seat-bottom');
      bottom.appendChild(parts.answered);
      bottom.appendChild(parts.time);
      parts.bar.appendChild(parts.fill);
      node.appendChild(top);
      node.appendChild(parts.name);
      node.appendChild(parts.reg);
      node.appendChild(parts.bar);
      node.appendChild(bottom);
      node.appendChild(parts.examTime);
      tile = tiles[seat.candidate] = {node: node, parts: parts, at: 0, running: false, flags: []};
      var id = seat.candidate;
      node.addEventListener('click', function () { select(id); });
      node.addEventListener('keydown', function (event) {
        if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); select(id); }
      });
    }
    var p = tile.parts;
    var label = seat.seat || seat.registration_no;
    var status = STATUSES.indexOf(seat.status) >= 0 ? seat.status : 'absent';
    tile.seat = seat;
    tile.status = status;
    tile.node.className = 'seat st-' + status; // filter, flag and selection classes follow in refresh()
    tile.node.setAttribute('data-testid', 'seat-' + label);
    tile.node.setAttribute('data-status', status);
    // "PC-" before every number: room mode shows the number alone, big
    var prefix = /^[^0-9]*/.exec(label)[0];
    if (p.label.textContent !== label) {
      p.label.textContent = '';
      if (prefix && prefix !== label) p.label.appendChild(make('span', 'seat-prefix', prefix));
      p.label.appendChild(document.createTextNode(prefix && prefix !== label ? label.slice(prefix.length) : label));
    }
    // a tile has room for a short word only (never an ellipsis mid-word); the full one is its tooltip
    p.word.textContent = T.status_short[status];
    p.word.title = STATUS_WORDS[status];
    p.shape.firstChild.setAttribute('href', '#st-' + status);
    p.name.textContent = seat.name;
    p.reg.textContent = seat.registration_no;
    var total = seat.total || 0;
    p.answered.textContent = total ? seat.answered + '/' + total : '–';
    p.fill.style.width = (total ? Math.min(100, 100 * seat.answered / total) : 0) + '%';
    // the clocks count down from the snapshot's seconds; a paused one stands still
    tile.at = performance.now();
    tile.running = status !== 'paused';
    var section = seat.section || null;
    p.section.textContent = hasSectionClock(seat) && section ? section.code : '';
    p.time.title = hasSectionClock(seat) ? T.section_time + (section ? ' ' + section.name : '') : T.exam_time;
    renderClocks(tile, performance.now());
    return tile;
  }

  // --- flags -------------------------------------------------------------------

  function serverNow() { return Date.now() + clockOffset; }

  function pace(seat) {
    if (!seat.started_at || !seat.last_answer_at || seat.answered < FAST_MIN_ANSWERS) return null;
    return (Date.parse(seat.last_answer_at) - Date.parse(seat.started_at)) / 1000 / seat.answered;
  }

  function median(values) {
    if (!values.length) return null;
    values.sort(function (a, b) { return a - b; });
    var mid = Math.floor(values.length / 2);
    return values.length % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
  }

  function computeFlags() {
    var now = serverNow();
    var paces = [];
    order.forEach(function (id) {
      var value = pace(tiles[id].seat);
      if (value !== null) paces.push(value);
    });
    var typical = paces.length >= 3 ? median(paces) : null;
    var flagged = 0;
    order.forEach(function (id) {
      var tile = tiles[id];
      var seat = tile.seat;
      var flags = [];
      if (seat.status === 'disconnected' && seat.last_seen &&
          now - Date.parse(seat.last_seen) > config.disconnected_s * 1000) flags.push('disconnected');
      if (seat.status === 'answering') {
        var since = seat.last_answer_at || seat.started_at;
        if (since && now - Date.parse(since) > config.idle_s * 1000) flags.push('idle');
      }
      var own = pace(seat);
      if (typical !== null && own !== null && own < typical * FAST_RATIO) flags.push('fast');
      (seat.flags || []).forEach(function (flag) { flags.push(flag); });
      if (seat.status === 'finished') {
        flags = flags.filter(function (f) { return LIVE_ONLY.indexOf(f) < 0; });
      }
      var open = flags.filter(function (f) { return !acked(seat, f); });
      var late = seat.late ? lateText(seat.late.late_s) : '';
      var key = flags.join() + '|' + open.join() + '|' + late;
      if (key !== tile.flagKey) {
        tile.flagKey = key;
        tile.flags = flags;
        tile.open = open;
        tile.parts.flags.textContent = '';
        // came late: a clock, not a flag (nothing to check), before the flags
        if (late) tile.parts.flags.appendChild(lateMark(T.late.short.replace('%(late)s', late)));
        flags.forEach(function (f) { tile.parts.flags.appendChild(flagIcon(f, open.indexOf(f) < 0)); });
        tile.parts.flags.setAttribute('data-flags', flags.join(' '));
        tile.parts.flags.setAttribute('data-open', open.join(' '));
      }
      tile.node.classList.toggle('flagged', open.length > 0);
      tile.node.classList.toggle('late', !!seat.late);
      var help = open.indexOf('help') >= 0;
      tile.node.classList.toggle('help', help);
      tile.parts.shape.firstChild.setAttribute('href', help ? '#icon-help' : '#st-' + tile.status);
      var time = timeText(tile);
      tile.node.title = (seat.seat || '') + ' — ' + seat.name + ' (' + seat.registration_no + ') — ' +
        STATUS_WORDS[tile.status] + (time ? ' — ' + time : '') +
        (late ? ' — ' + T.late.short.replace('%(late)s', late) : '') +
        (flags.length ? ' — ' + flags.map(function (f) { return FLAG_WORDS[f]; }).join('; ') : '');
      if (open.length) flagged += 1;
    });
    // only what still needs a look: acknowledged flags stay on the tile, muted, but count no more
    $('count-flagged').textContent = String(flagged);
  }

  // has a proctor acknowledged this flag, and does the acknowledgement still hold?
  function acked(seat, flag) {
    var ack = seat.acks && seat.acks[flag];
    if (!ack || flag === 'help') return false; // an open help request is never "seen" until answered
    var at = Date.parse(ack.at);
    if (flag === 'idle') return at >= Date.parse(seat.last_answer_at || seat.started_at || 0);
    if (flag === 'disconnected') return at >= Date.parse(seat.last_seen || 0);
    return true;
  }

  // --- filter, list view, selection --------------------------------------------

  function matches(tile) {
    var filter = el.filter.value;
    if (!filter) return true;
    if (filter === 'flagged') return (tile.open || []).length > 0;
    if (filter === 'late') return !!tile.seat.late;
    return tile.status === filter;
  }

  function applyFilter() {
    order.forEach(function (id) {
      var tile = tiles[id];
      tile.node.classList.toggle('filtered-out', !matches(tile));
      tile.node.classList.toggle('selected', id === selected);
    });
    document.querySelectorAll('.count[data-filter]').forEach(function (node) {
      node.classList.toggle('active', node.getAttribute('data-filter') === el.filter.value);
    });
  }

  function sortKey(tile, key) {
    var seat = tile.seat;
    switch (key) {
      case 'status': return STATUS_ORDER[tile.status];
      case 'answered': return seat.answered || 0;
      case 'remaining':
        var left = primaryLeft(tile, performance.now());
        return left === null ? Infinity : left;
      case 'last_seen': var seen = lastActivity(seat); return seen === null ? Infinity : seen;
      case 'flags': return -(tile.open || []).length * 100 - tile.flags.length;
      default: return 0;
    }
  }

  function renderList() {
    if (view !== 'list') return;
    var key = el.sort.value;
    var ids = order.filter(function (id) { return matches(tiles[id]); });
    if (key !== 'seat') {
      ids = ids.map(function (id, i) { return [sortKey(tiles[id], key), i, id]; })
        .sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; })
        .map(function (x) { return x[2]; });
    }
    var now = serverNow();
    var fragment = document.createDocumentFragment();
    ids.forEach(function (id) {
      var tile = tiles[id];
      var seat = tile.seat;
      var row = make('tr', 'st-' + tile.status + (id === selected ? ' selected' : ''));
      row.setAttribute('data-testid', 'row-' + (seat.seat || seat.registration_no));
      row.appendChild(make('td', 'num', seat.seat || '—'));
      row.appendChild(make('td', null, seat.name + ' · ' + seat.registration_no));
      var status = make('td');
      status.appendChild(make('span', 'dot st-' + tile.status));
      status.appendChild(document.createTextNode(STATUS_WORDS[tile.status]));
      if (seat.late) {
        var lateNote = make('span', 'late-note');
        var mark = lateMark('');
        mark.setAttribute('aria-hidden', 'true'); // its words follow
        mark.removeAttribute('role');
        lateNote.appendChild(mark);
        lateNote.appendChild(document.createTextNode(' ' + T.late.short.replace('%(late)s', lateText(seat.late.late_s))));
        status.appendChild(lateNote);
      }
      row.appendChild(status);
      row.appendChild(make('td', 'num', seat.total ? seat.answered + '/' + seat.total : '–'));
      row.appendChild(make('td', 'num', timeText(tile)));
      row.appendChild(make('td', 'num', seenText(seat, now)));
      var flagCell = make('td', 'flags');
      tile.flags.forEach(function (f, i) {
        if (i) flagCell.appendChild(document.createTextNode(', '));
        var icon = flagIcon(f, (tile.open || []).indexOf(f) < 0);
        icon.setAttribute('aria-hidden', 'true'); // its words follow
        flagCell.appendChild(icon);
        flagCell.appendChild(document.createTextNode(' ' + FLAG_WORDS[f]));
      });
      row.appendChild(flagCell);
      row.addEventListener('click', function () { select(id); });
      fragment.appendChild(row);
    });
    el.listBody.textContent = '';
    el.listBody.appendChild(fragment);
  }

  // the seat's last activity: its latest answer or its socket's last connect or disconnect
  function lastActivity(seat) {
    var times = [seat.last_seen, seat.last_answer_at].filter(Boolean).map(Date.parse);
    return times.length ? Math.max.apply(null, times) : null;
  }

  function seenText(seat, now) {
    var seen = lastActivity(seat);
    if (seen === null) return '—';
    var text = ago(now - seen);
    if (seat.total) text += ' · ' + T.n_answered.replace('%(n)s', seat.answered);
    return text;
  }

  // a time a person reads, on the centre's clock ("14:02:11 WIB"), whatever this computer's zone
  function clockText(ms, minutes) {
    var here = new Date(ms + config.zone.offset_min * 60000);
    function two(n) { return (n < 10 ? '0' : '') + n; }
    return two(here.getUTCHours()) + ':' + two(here.getUTCMinutes()) +
      (minutes ? '' : ':' + two(here.getUTCSeconds())) + ' ' + config.zone.label;
  }

  function ago(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return T.ago_s.replace('%(n)s', s);
    if (s < 3600) return T.ago_min.replace('%(n)s', Math.floor(s / 60));
    return T.ago_h.replace('%(n)s', Math.floor(s / 3600));
  }

  function setView(which) {
    view = which;
    el.grid.hidden = which !== 'grid';
    el.list.hidden = which !== 'list';
    el.viewGrid.setAttribute('aria-pressed', String(which === 'grid'));
    el.viewList.setAttribute('aria-pressed', String(which === 'list'));
    // sorting orders the list only: the grid keeps the room's seat order
    el.sortLabel.hidden = which !== 'list';
    if (which !== 'grid' && roomMode) setRoomMode(false);
    document.body.classList.toggle('list-view', which === 'list');
    measureHead();
    fitRoom();
    renderList();
  }

  // --- room mode: every seat on one screen, sized to fill it ---------------------

  var ROOM_ASPECT = 1.55; // a tile's width over its height, as near as the screen allows
  var roomMode = false;

  function setRoomMode(on) {
    roomMode = on;
    try { window.localStorage.setItem('proctor-room-mode', on ? '1' : ''); } catch (e) { /* private mode */ }
    document.body.classList.toggle('room-mode', on);
    el.roomMode.setAttribute('aria-pressed', String(on));
    if (on && view !== 'grid') setView('grid');
    if (!on) toggleSittingMenu(false);
    fitRoom();
    placePanel();
  }

  // the column count that gives the biggest tiles for this many seats in the space left under the header
  function fitRoom() {
    if (!roomMode || view !== 'grid') {
      el.grid.style.removeProperty('grid-template-columns');
      el.grid.style.removeProperty('grid-auto-rows');
      el.grid.style.removeProperty('--tile-h');
      el.grid.style.removeProperty('--tile-w');
      return;
    }
    var n = Math.max(1, order.length);
    var gap = 4;
    var top = el.grid.getBoundingClientRect().top + window.scrollY;
    var width = el.grid.clientWidth;
    var height = window.innerHeight - top - 8;
    var best = null;
    for (var cols = 1; cols <= n; cols++) {
      var rows = Math.ceil(n / cols);
      var w = (width - (cols - 1) * gap) / cols;
      var h = (height - (rows - 1) * gap) / rows;
      var size = Math.min(w / ROOM_ASPECT, h); // the tile's height at the aspect it can keep
      if (!best || size > best.size) best = {cols: cols, size: size, h: h};
    }
    var tileH = Math.floor(Math.min(best.h, best.size * 1.35));
    el.grid.style.gridTemplateColumns = 'repeat(' + best.cols + ', minmax(0, 1fr))';
    el.grid.style.gridAutoRows = tileH + 'px';
    el.grid.style.setProperty('--tile-h', tileH + 'px');
    // the font also fits the width: the longest seat number and its shape always show whole
    el.grid.style.setProperty('--tile-w', Math.floor((width - (best.cols - 1) * gap) / best.cols) + 'px');
    el.grid.style.setProperty('--label-ch', String(longestNumber()));
    // too low for a second line: the number and the shape say it all
    el.grid.classList.toggle('room-small', tileH < 44);
  }
  window.addEventListener('resize', fitRoom);

  // room mode shows a seat's number without its prefix ("0061" of "PC-0061")
  function longestNumber() {
    var most = 1;
    order.forEach(function (id) {
      var label = tiles[id].seat.seat || tiles[id].seat.registration_no || '';
      var prefix = /^[^0-9]*/.exec(label)[0];
      most = Math.max(most, (prefix && prefix !== label ? label.length - prefix.length : label.length));
    });
    return most;
  }
  el.roomMode.addEventListener('click', function () { setRoomMode(!roomMode); });

  // room mode: start, pause all, extend all, note and end stay one press away, in a menu
  // under "Tindakan sesi" that drops over the grid and closes once an action is chosen
  function toggleSittingMenu(open) {
    el.sittingMenu.parentNode.classList.toggle('menu-open', open);
    el.sittingMenu.setAttribute('aria-expanded', String(open));
  }
  el.sittingMenu.addEventListener('click', function () {
    toggleSittingMenu(el.sittingMenu.getAttribute('aria-expanded') !== 'true');
  });
  document.addEventListener('keydown', function (event) {
    if (event.key === 'Escape' && el.sittingMenu.getAttribute('aria-expanded') === 'true') {
      toggleSittingMenu(false);
      el.sittingMenu.focus();
    }
  });

  el.viewGrid.addEventListener('click', function () { setView('grid'); });
  el.viewList.addEventListener('click', function () { setView('list'); });
  el.filter.addEventListener('change', refresh);
  el.sort.addEventListener('change', refresh);
  document.querySelectorAll('.count[data-filter]').forEach(function (node) {
    node.addEventListener('click', function () {
      var value = node.getAttribute('data-filter');
      el.filter.value = el.filter.value === value ? '' : value;
      refresh();
    });
  });
  document.querySelectorAll('#seat-list th[data-sort]').forEach(function (th) {
    th.addEventListener('click', function () {
      el.sort.value = th.getAttribute('data-sort');
      refresh();
    });
  });

  function select(id) {
    selected = id;
    el.pin.hidden = true;
    renderPanel();
    placePanel();
    applyFilter();
    renderList();
    // the panel narrows the list and its rows grow taller: the chosen row stays in sight
    var row = view === 'list' && el.listBody.querySelector('tr.selected');
    if (row) row.scrollIntoView({block: 'nearest'});
  }

  // The open panel takes a column of its own at the right: the grid, the list and the room
  // narrow to what is left (room mode refits every seat into it), so it never lies over a
  // tile, its own seat's included, nor over the list's columns.
  function showPanel(open) {
    if (el.panel.hidden === !open) return;
    el.panel.hidden = !open;
    document.body.classList.toggle('panel-open', open);
    fitRoom();
    placePanel();
  }

  // the panel starts below the header (counts, sitting actions, view bar; the
  // counts wrap to a second line at 1366 px), so "Perlu dicek" and the controls
  // stay in sight and in reach while it is open
  var viewBar = document.querySelector('.view-bar');
  // the list view's sticky head: the view bar sits under the counts, the list's header under
  // both, and a row scrolled to stops below them (scroll-padding-top)
  function measureHead() {
    var root = document.documentElement.style;
    root.setProperty('--head-h', document.querySelector('.sitting-head').offsetHeight + 'px');
    root.setProperty('--bar-h', document.querySelector('.view-bar').offsetHeight + 'px');
  }
  if (window.ResizeObserver) {
    var heads = new ResizeObserver(measureHead);
    heads.observe(document.querySelector('.sitting-head'));
    heads.observe(document.querySelector('.view-bar'));
  }

  function placePanel() {
    if (el.panel.hidden) return;
    var top = Math.max(16, Math.round(viewBar.getBoundingClientRect().bottom) + 8);
    el.panel.style.top = top + 'px';
    el.panel.style.maxHeight = 'calc(100vh - ' + (top + 16) + 'px)';
  }
  window.addEventListener('scroll', placePanel, {passive: true});
  window.addEventListener('resize', placePanel);

  $('panel-close').addEventListener('click', function () {
    selected = null;
    showPanel(false);
    applyFilter();
    renderList();
  });

  function renderPanel() {
    var tile = selected !== null ? tiles[selected] : null;
    if (!tile) { showPanel(false); return; }
    var seat = tile.seat;
    showPanel(true);
    el.panel.setAttribute('data-status', tile.status);
    $('panel-seat').textContent = (seat.seat || '—') + ' · ' + STATUS_WORDS[tile.status];
    $('panel-name').textContent = seat.name;
    $('panel-reg').textContent = seat.registration_no;
    $('panel-status').textContent = STATUS_WORDS[tile.status] +
      (seat.finish_reason ? ' (' + seat.finish_reason + ')' : '');
    $('panel-answered').textContent = seat.total ? seat.answered + '/' + seat.total : '–';
    var now = performance.now();
    var examLeft = leftOf(tile, 'remaining_s', now);
    var sectionLeft = leftOf(tile, 'section_remaining_s', now);
    $('panel-time').textContent = examLeft === null ? '—' : formatTime(examLeft);
    var section = seat.status !== 'finished' ? seat.section : null;
    $('panel-section').textContent = section
      ? section.code + ' — ' + section.name + ' (' + section.index + '/' + section.count + ')' : '—';
    $('panel-section-time-label').hidden = $('panel-section-time').hidden = sectionLeft === null;
    $('panel-section-time').textContent = sectionLeft === null ? '' : formatTime(sectionLeft);
    $('panel-seen').textContent = seenText(seat, serverNow());
    $('panel-late-label').hidden = $('panel-late').hidden = !seat.late;
    $('panel-late').textContent = seat.late ? latePanelText(seat.late) : '';
    renderPanelFlags(tile);
    $('panel-lockout-label').hidden = $('panel-lockout').hidden = !seat.lockout;
    $('panel-lockout').textContent = seat.lockout ? lockoutText(seat.lockout) : '';
    var running = seat.status === 'answering' || seat.status === 'disconnected' || seat.status === 'paused';
    var hasAttempt = seat.status !== 'absent';
    var buttons = el.panel.querySelectorAll('[data-action]');
    buttons.forEach(function (button) {
      var action = button.getAttribute('data-action');
      var enabled = {
        pause_seat: running && !seat.paused,
        resume_seat: seat.paused && !(sitting && sitting.paused),
        extend_seat: running,
        end_attempt: hasAttempt && seat.status !== 'finished',
        move_seat: hasAttempt && seat.status !== 'finished',
        reset_pin: seat.status !== 'finished',
        lift_lockout: !!seat.lockout,
        end_session: hasAttempt,
        note_incident: true
      }[action];
      button.hidden = (action === 'pause_seat' && seat.paused) || (action === 'resume_seat' && !seat.paused) ||
        (action === 'lift_lockout' && !seat.lockout);
      button.disabled = !enabled;
    });
  }

  // each flag with its words; an open one has "Sudah dicek" beside it, a seen one says who and when
  function renderPanelFlags(tile) {
    var seat = tile.seat;
    var box = $('panel-flags');
    var key = tile.flagKey + '|' + JSON.stringify(seat.acks || {}) + '|' + seat.lz;
    if (box.getAttribute('data-key') === key) return;
    box.setAttribute('data-key', key);
    box.textContent = '';
    // the last help call stays in the panel, answered, with who went and when
    var shown = tile.flags.slice();
    if (seat.acks && seat.acks.help && shown.indexOf('help') < 0) shown.unshift('help');
    if (!shown.length) box.textContent = '—';
    shown.forEach(function (flag) {
      var line = make('div', 'panel-flag');
      line.setAttribute('data-flag', flag);
      var icon = flagIcon(flag);
      icon.setAttribute('aria-hidden', 'true');
      line.appendChild(icon);
      line.appendChild(make('span', null, ' ' + FLAG_WORDS[flag] +
        (flag === 'person_fit' && typeof seat.lz === 'number' ? ' (lz ' + seat.lz.toFixed(2) + ')' : '')));
      if ((tile.open || []).indexOf(flag) >= 0) {
        var button = make('button', 'button small', flag === 'help' ? T.answer_help : T.ack);
        button.type = 'button';
        button.setAttribute('data-testid', 'ack-' + flag);
        button.addEventListener('click', function () { openAction('acknowledge', selected, flag); });
        line.appendChild(button);
      } else if (seat.acks && seat.acks[flag]) {
        line.appendChild(make('span', 'ack-who', T.acked_by.replace('%(who)s', seat.acks[flag].by)
          .replace('%(time)s', clockText(Date.parse(seat.acks[flag].at)))));
      }
      box.appendChild(line);
    });
  }

  // "5 wrong PINs in the last hour — only new workstations may try, until 10:42"
  function lockoutText(lockout) {
    var until = new Date(Date.parse(lockout.until)).toLocaleTimeString(config.lang === 'en' ? 'en-GB' : 'id-ID',
      {hour: '2-digit', minute: '2-digit'});
    return T.lockout.failures.replace('%(n)s', lockout.failures) + ' — ' +
      (lockout.slowed ? T.lockout.slowed : T.lockout.locked).replace('%(time)s', until);
  }

  // --- actions -------------------------------------------------------------------

  // the seat move dialog lists the free seats; a label not in the room adds a spare seat
  var addSeatConfirmed = null;

  function offerFreeSeats() {
    addSeatConfirmed = null;
    var list = $('free-seats');
    list.textContent = '';
    send('free_seats', {sitting: config.sitting}, function (ack) {
      if (!ack.ok) return;
      ack.seats.forEach(function (label) {
        var option = document.createElement('option');
        option.value = label;
        list.appendChild(option);
      });
      $('free-seats-hint').textContent = ack.seats.length
        ? T.free_seats + ' ' + ack.seats.join(', ')
        : T.no_free_seats;
    });
  }

  function openAction(action, candidate, flag) {
    var spec = ACTIONS[action];
    pending = {action: action, candidate: spec.seat || candidate !== undefined ? candidate : undefined, flag: flag};
    var seat = candidate !== undefined && candidate !== null && tiles[candidate] ? tiles[candidate].seat : null;
    // a help call is answered ("Sudah didatangi"), not merely checked: the title says what the button said
    $('action-title').textContent = action === 'acknowledge' && flag === 'help' ? T.answer_help_title : spec.title;
    $('action-target').textContent = seat
      ? T.seat + ' ' + (seat.seat || '—') + ' — ' + seat.name + ' (' + seat.registration_no + ')'
      : T.whole_sitting + ': ' + (sitting ? sitting.name : '');
    $('field-minutes').hidden = !spec.minutes;
    $('field-seat').hidden = !spec.newSeat;
    $('field-category').hidden = !spec.category;
    $('reason-label').textContent = spec.text ? T.note_label : spec.optional ? T.optional_label : T.reason_label;
    $('action-effect').textContent = effectText(action, flag);
    $('action-effect').hidden = !$('action-effect').textContent;
    el.form.reason.value = '';
    el.form.seat.value = '';
    if (spec.newSeat) offerFreeSeats();
    el.actionError.hidden = true;
    $('action-submit').classList.toggle('danger', !!spec.danger);
    $('action-submit').disabled = false;
    el.dialog.showModal();
    el.form.reason.focus();
  }

  // what the action will do, in numbers, before it is sent
  function effectText(action, flag) {
    var c = lastCounts || {};
    if (action === 'end_sitting') {
      return T.end_sitting_effect.replace('%(n)s', c.unfinished || 0).replace('%(done)s', c.finished || 0);
    }
    if (action === 'start_sitting') {
      var effect = T.start_effect.replace('%(n)s', c.to_start || 0);
      // logged in but not connected: their clocks start as well (the outsider walk)
      if (c.to_start_offline) effect += ' ' + T.start_offline.replace('%(k)s', c.to_start_offline);
      return effect;
    }
    if (action === 'acknowledge') return FLAG_WORDS[flag] || flag;
    return '';
  }

  el.panel.querySelectorAll('[data-action]').forEach(function (button) {
    button.addEventListener('click', function () {
      openAction(button.getAttribute('data-action'), selected);
    });
  });
  el.checkIn.addEventListener('click', function () { openAction('open_check_in', null); });
  el.sittingActions.querySelectorAll('[data-action]').forEach(function (button) {
    button.addEventListener('click', function () {
      toggleSittingMenu(false);
      openAction(button.getAttribute('data-action'), null);
    });
  });
  $('action-cancel').addEventListener('click', function () { el.dialog.close(); });
  el.form.reason.addEventListener('input', function () { el.actionError.hidden = true; });

  el.form.addEventListener('submit', function (event) {
    event.preventDefault();
    if (!pending) return;
    var spec = ACTIONS[pending.action];
    var text = el.form.reason.value.trim();
    if (!text && !spec.optional) {
      showActionError({message: T.reason_required});
      return;
    }
    var payload = {sitting: config.sitting};
    if (spec.flag) {
      payload.flag = pending.flag;
      if (text) payload.note = text;
    } else if (spec.text) payload.text = text;
    else if (text || !spec.optional) payload.reason = text;
    if (pending.candidate !== null && pending.candidate !== undefined) payload.candidate = pending.candidate;
    if (spec.minutes) payload.minutes = parseInt(el.form.minutes.value, 10);
    if (spec.newSeat) {
      payload.seat = el.form.seat.value.trim() || null;
      // a label the room does not have is added as a spare seat only once confirmed
      if (payload.seat && addSeatConfirmed === payload.seat) payload.add_seat = true;
    }
    if (spec.category) payload.category = el.form.category.value;
    var action = pending.action;
    $('action-submit').disabled = true;
    send(action, payload, function (ack) {
      $('action-submit').disabled = false;
      if (!ack.ok) {
        if (action === 'move_seat' && ack.error === 'not_found' && payload.seat) {
          addSeatConfirmed = payload.seat; // the next press adds it
          el.actionError.textContent = T.add_spare.replace('%(seat)s', payload.seat);
          el.actionError.hidden = false;
          return;
        }
        showActionError(ack);
        if (ack.free) el.actionError.textContent += ' ' + (ack.free.length ? T.free_seats + ' ' + ack.free.join(', ') : T.no_free_seats);
        return;
      }
      el.dialog.close();
      pending = null;
      hideMessage();
      if (action === 'acknowledge' && tiles[payload.candidate]) {
        // at once on this screen; the feed brings it to every other console of the sitting
        var seat = tiles[payload.candidate].seat;
        seat.acks = Object.assign({}, seat.acks, {});
        seat.acks[payload.flag] = {by: ack.by, at: ack.at};
        if (payload.flag === 'help') seat.flags = (seat.flags || []).filter(function (f) { return f !== 'help'; });
        refresh();
      }
      if (action === 'reset_pin') {
        el.pin.textContent = T.new_pin.replace('%(pin)s', ack.pin);
        el.pin.hidden = false;
      }
      if (action === 'lift_lockout' && !ack.lifted) {
        showNotice(spec.title + ' — ' + T.lockout.none);
        return;
      }
      showNotice(spec.title + ' — ' + T.done +
        (typeof ack.attempts === 'number' ? ' (' + T.n_candidates.replace('%(n)s', ack.attempts) + ')' : ''));
    });
  });

  function showActionError(ack) {
    el.actionError.textContent = messageOf(ack) || T.failed;
    el.actionError.hidden = false;
  }

  var noticeTimer = null;
  function showNotice(text) {
    el.notice.textContent = text;
    el.notice.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { el.notice.hidden = true; }, 5000);
  }

  // --- clock -----------------------------------------------------------------------

  function formatTime(seconds) {
    var s = Math.max(0, Math.ceil(seconds));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var sec = s % 60;
    var mm = (m < 10 ? '0' : '') + m;
    var ss = (sec < 10 ? '0' : '') + sec;
    // 1:39:20, not 01:39:20: a dense tile has no room for a zero that says nothing
    return h > 0 ? h + ':' + mm + ':' + ss : mm + ':' + ss;
  }

  // A section with a time limit of its own shows its clock on the tile (what
  // ends first for that seat); the exam's clock stays below it while they differ.
  function hasSectionClock(seat) {
    return typeof seat.section_remaining_s === 'number';
  }

  // seconds left on `key` ('remaining_s' or 'section_remaining_s') now, or null
  function leftOf(tile, key, now) {
    var value = tile.seat[key];
    if (typeof value !== 'number') return null;
    return tile.running ? value - (now - tile.at) / 1000 : value;
  }

  function primaryLeft(tile, now) {
    var section = leftOf(tile, 'section_remaining_s', now);
    return section !== null ? section : leftOf(tile, 'remaining_s', now);
  }

  function examDiffers(tile, now) {
    var exam = leftOf(tile, 'remaining_s', now);
    var section = leftOf(tile, 'section_remaining_s', now);
    return exam !== null && section !== null && Math.abs(exam - section) >= 1;
  }

  function renderClocks(tile, now) {
    var p = tile.parts;
    var left = primaryLeft(tile, now);
    var text = left === null ? '' : formatTime(left);
    if (p.clock.textContent !== text) p.clock.textContent = text;
    p.time.classList.toggle('low', left !== null && Math.ceil(left) < 300);
    var exam = examDiffers(tile, now) ? T.exam_short + ' ' + formatTime(leftOf(tile, 'remaining_s', now)) : '';
    if (p.examTime.textContent !== exam) p.examTime.textContent = exam;
  }

  // the seat's time as words, for the list, the panel and the tooltip
  function timeText(tile) {
    var now = performance.now();
    var seat = tile.seat;
    var left = primaryLeft(tile, now);
    if (left === null) return '';
    var text = formatTime(left);
    if (hasSectionClock(seat) && seat.section) text = seat.section.code + ' ' + text;
    if (examDiffers(tile, now)) text += ' · ' + T.exam_short + ' ' + formatTime(leftOf(tile, 'remaining_s', now));
    return text;
  }

  function tick() {
    var now = performance.now();
    order.forEach(function (id) { renderClocks(tiles[id], now); });
  }

  function refresh() {
    tick();
    computeFlags();
    applyFilter();
    renderList();
    renderPanel();
  }

  setInterval(refresh, 1000);

  // --- messages and connection -------------------------------------------------

  // offline, the grid is dimmed and says since when its data is: nothing on it moves any more
  function setConnection(online) {
    el.conn.textContent = online ? T.connected : T.reconnecting;
    el.conn.className = 'conn-indicator ' + (online ? 'online' : 'offline');
    document.body.classList.toggle('stale', !online);
    el.updated.hidden = online || lastUpdate === null;
  }

  function showMessage(ack) {
    el.message.textContent = '';
    el.message.appendChild(make('strong', null, messageOf(ack) || T.error));
    el.message.hidden = false;
  }

  // the server's errors carry both languages: show the page's
  function messageOf(ack) {
    return config.lang === 'en' && ack.message_en ? ack.message_en : ack.message;
  }

  function hideMessage() {
    el.message.hidden = true;
  }
  try { if (window.localStorage.getItem('proctor-room-mode')) setRoomMode(true); } catch (e) { /* private mode */ }
})();
