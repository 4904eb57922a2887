// The public score board for the waiting hall TV. Read-only: it watches the
// sitting on /board and re-renders from every `board` message (a full
// snapshot). Finished rows are ranked by total, the newly finished highlighted
// where they rank; running seats are never ranked among them (a count, or unranked
// rows after the ranking when the board shows progress). As many rows a page as
// the screen's height holds, the pages turning every few seconds.
// Protocol: docs/protocol.md, namespace /board.
(function () {
  'use strict';

  var config = JSON.parse(document.getElementById('board-config').textContent);
  var rowsPerPage = 12; // set from the screen's height once a row is drawn (fitRows)
  var PAGE_MS = 10000;
  // the words come translated from the page (Flask-Babel)
  var HEADINGS = config.strings.headings;
  var STATUS_WORDS = config.strings.status;

  var el = {
    thead: document.getElementById('board-thead'),
    rows: document.getElementById('board-rows'),
    empty: document.getElementById('board-empty'),
    off: document.getElementById('board-off'),
    live: document.getElementById('board-live'),
    clock: document.getElementById('board-clock'),
    pageNo: document.getElementById('board-page-no'),
    exam: document.getElementById('board-exam'),
    sitting: document.getElementById('board-sitting'),
    main: document.getElementById('board-main'),
    running: document.getElementById('board-running')
  };
  var board = null;
  var page = 0;

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  var socket = io('/board');
  socket.on('connect', function () {
    el.live.classList.remove('stale');
    socket.emit('watch', {sitting: config.sitting}, function (ack) {
      if (ack && ack.ok) render(ack); else showOff();
    });
  });
  socket.on('disconnect', function () { el.live.classList.add('stale'); });
  socket.on('board', function (payload) {
    if (payload && payload.off) showOff(); else render(payload);
  });

  function showOff() {
    board = null;
    el.rows.textContent = '';
    el.thead.textContent = '';
    el.off.hidden = false;
    el.empty.hidden = true;
  }

  function columns(data) {
    var cols = ['rank'];
    data.fields.forEach(function (field) {
      if (field === 'sections') {
        data.sections.forEach(function (s) { cols.push('section:' + s.code); });
      } else {
        cols.push(field);
      }
    });
    if (data.fields.indexOf('progress') < 0) cols.push('status');
    return cols;
  }

  // [{row, rank, fresh}]: the finished ranked by total (equal totals share a rank, then seat
  // order), the newly finished highlighted where their score puts them (a zero just ended by
  // the proctor is not news for page 1); then, only if the board shows progress, the running
  // seats, unranked
  function ranked(data) {
    var finished = [];
    var running = [];
    var recent = data.recent || [];
    data.rows.forEach(function (row, i) {
      if (row.status === 'finished') finished.push({row: row, i: i, fresh: recent.indexOf(i) >= 0});
      else running.push({row: row, i: i, rank: null});
    });
    finished.sort(function (a, b) {
      var ta = typeof a.row.total === 'number' ? a.row.total : -Infinity;
      var tb = typeof b.row.total === 'number' ? b.row.total : -Infinity;
      return tb - ta || a.i - b.i;
    });
    finished.forEach(function (x, k) {
      var prev = finished[k - 1];
      x.rank = prev && prev.row.total === x.row.total ? prev.rank : k + 1;
    });
    var shown = finished;
    if (data.fields.indexOf('progress') >= 0) shown = shown.concat(running);
    return {rows: shown, running: running.length};
  }

  function render(data) {
    board = data;
    el.off.hidden = true;
    el.exam.textContent = data.sitting.exam;
    el.sitting.textContent = data.sitting.name + (data.sitting.room ? ' · ' + data.sitting.room : '');
    // LIVE while the sitting runs; once it has ended the board says so (the scores are final)
    var ended = data.sitting.status === 'ended';
    el.live.textContent = ended ? config.strings.ended : config.strings.live;
    el.live.classList.toggle('ended', ended);
    var cols = columns(data);
    var head = make('tr');
    cols.forEach(function (col) {
      var text = col.indexOf('section:') === 0 ? col.slice(8) : HEADINGS[col];
      head.appendChild(make('th', 'c-' + col.split(':')[0], text));
    });
    el.thead.textContent = '';
    el.thead.appendChild(head);
    draw();
  }

  function draw() {
    if (!board) return;
    var order = ranked(board);
    var rows = order.rows;
    el.running.textContent = order.running ? config.strings.running.replace('%(n)s', order.running) : '';
    el.running.hidden = !order.running;
    var pages = Math.max(1, Math.ceil(rows.length / rowsPerPage));
    if (page >= pages) page = 0;
    el.pageNo.textContent = pages > 1 ? config.strings.page.replace('%(n)s', page + 1).replace('%(of)s', pages) : '';
    el.empty.hidden = rows.length > 0;
    var cols = columns(board);
    var marks = {};
    board.sections.forEach(function (s) { marks[s.code] = s.pass_mark; });
    var fragment = document.createDocumentFragment();
    rows.slice(page * rowsPerPage, (page + 1) * rowsPerPage).forEach(function (entry) {
      var row = entry.row;
      var tr = make('tr', 'st-' + row.status + (entry.fresh ? ' fresh' : ''));
      cols.forEach(function (col) {
        var td;
        if (col === 'rank') {
          td = make('td', 'c-rank', entry.rank === null ? '—' : entry.rank);
          if (entry.fresh) td.appendChild(make('span', 'new-badge', config.strings.new));
        } else if (col.indexOf('section:') === 0) {
          var code = col.slice(8);
          var score = row.sections ? row.sections[code] : null;
          td = make('td', 'c-section num', score === null || score === undefined ? '—' : score);
          if (marks[code] !== null && marks[code] !== undefined && row.status === 'finished') {
            td.classList.add(score >= marks[code] ? 'pass' : 'fail');
          }
        } else if (col === 'passed') {
          var word = row.passed === true ? config.strings.pass : row.passed === false ? config.strings.fail : '—';
          td = make('td', 'c-passed ' + (row.passed === true ? 'pass' : row.passed === false ? 'fail' : ''), word);
        } else if (col === 'progress') {
          td = make('td', 'c-progress num', row.progress ? row.progress.answered + '/' + row.progress.total : '');
        } else if (col === 'status') {
          td = make('td', 'c-status', STATUS_WORDS[row.status] || row.status);
        } else {
          var value = row[col] === null || row[col] === undefined ? '—' : row[col];
          td = make('td', 'c-' + col + (col === 'total' ? ' num' : ''), value);
        }
        tr.appendChild(td);
      });
      fragment.appendChild(tr);
    });
    el.rows.textContent = '';
    el.rows.appendChild(fragment);
    fitRows();
  }

  // as many rows as the screen's height holds under the heading: a 720p set shows fewer, a 1080p more
  var fitting = false;
  function fitRows() {
    var first = el.rows.firstElementChild;
    if (!first || fitting) return;
    var rowH = first.getBoundingClientRect().height;
    var top = el.rows.getBoundingClientRect().top;
    var bottom = el.main.getBoundingClientRect().bottom;
    var fit = Math.max(3, Math.floor((bottom - top) / rowH));
    if (fit !== rowsPerPage) {
      rowsPerPage = fit;
      fitting = true; // one redraw with the new count, no loop
      draw();
      fitting = false;
    }
  }
  window.addEventListener('resize', function () { draw(); });

  setInterval(function () { page += 1; draw(); }, PAGE_MS);
  // the centre's wall clock, in its zone as the server names it ("14:30:05 WIB"),
  // whatever zone this screen's computer is set to
  function two(n) { return (n < 10 ? '0' : '') + n; }
  function clock() {
    var here = new Date(Date.now() + config.zone.offset_min * 60000);
    el.clock.textContent = two(here.getUTCHours()) + ':' + two(here.getUTCMinutes()) + ':' +
      two(here.getUTCSeconds()) + ' ' + config.zone.label;
  }
  setInterval(clock, 1000);
  clock();
})();
