// What the test pages share: sending the page's report to /web/report/<session>, where a test or a
// person reads what the browser did; the rung of an hls.js level; and keeping hls.js's errors.
"use strict";
const PageReport = {
  send(session, report) {
    fetch("/web/report/" + encodeURIComponent(session), {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(report),
    }).catch(() => {});
  },

  rungOf(level) {
    // a level's URL ends in cmaf/<rung>/playlist.m3u8; a level from elsewhere is named by its height
    const found = /\/cmaf\/([^/]+)\/playlist\.m3u8/.exec(String(level.url));
    return found ? found[1] : String(level.height) + "p";
  },

  hlsError(report, data, extra) {
    // the last 50 errors are kept; a fatal one names the end of the run
    report.errors.push({ type: data.type, details: data.details, fatal: data.fatal, ...(extra || {}) });
    if (report.errors.length > 50) report.errors.shift();
    if (data.fatal) report.fatal = data.details;
  },
};
