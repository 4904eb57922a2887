// A button marked data-print prints the page (PIN slips, the incident report). A
// listener here rather than onclick="...": the Content-Security-Policy runs no
// inline script (cat_server/headers.py).
(function () {
  'use strict';

  document.addEventListener('click', function (event) {
    if (event.target.closest('[data-print]')) { window.print(); }
  });
}());
