// Candidate login: the form is posted with fetch so that a busy server (503 with
// Retry-After, see cat_server/admission.py) shows "server busy, retrying" and the
// same form is sent again after that many seconds, PIN included, without the
// candidate typing anything. Any other answer is shown as the plain form post
// would show it. Without JavaScript the form posts normally and the 503 page
// leads back to the login page.
(function () {
  'use strict';

  var form = document.querySelector('form.kiosk-form');
  var banner = document.getElementById('busy-banner');
  if (!form || !banner || !window.fetch) { return; }
  var button = form.querySelector('button[type="submit"]');

  function send(body) {
    fetch(form.action, {method: 'POST', body: body, credentials: 'same-origin',
                        headers: {'Accept': 'text/html'}})
      .then(function (response) {
        if (response.status === 503) {
          var seconds = parseInt(response.headers.get('Retry-After'), 10);
          if (!(seconds > 0)) { seconds = 5; }
          banner.hidden = false;
          banner.querySelector('[data-seconds]').textContent = String(seconds);
          setTimeout(function () { send(body); }, seconds * 1000);
          return null;
        }
        if (response.redirected) {
          window.location.assign(response.url);
          return null;
        }
        return response.text().then(function (html) {
          document.open();
          document.write(html);
          document.close();
        });
      })
      .catch(function () {  // the network itself: try again shortly
        banner.hidden = false;
        setTimeout(function () { send(body); }, 3000);
      });
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    button.disabled = true;
    send(new FormData(form));
  });
}());
